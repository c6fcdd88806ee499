// hold_service.exe NAME - opens service NAME and keeps the handle until its standard input ends.
// A test helper: while it holds the handle, DeleteService can only mark the service for deletion.
#include <cstdio>
#include <string>

#include "scm.hpp"

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: hold_service NAME\n");
        return 2;
    }
    kmd::ScHandle scm, service;
    if (kmd::Failure f = kmd::open_scm(scm, SC_MANAGER_CONNECT)) return std::fprintf(stderr, "%s\n", f.describe().c_str()), 1;
    if (kmd::Failure f = kmd::open_service(scm.get(), kmd::widen(argv[1]), service, SERVICE_QUERY_STATUS))
        return std::fprintf(stderr, "%s\n", f.describe().c_str()), 1;
    std::printf("holding %s\n", argv[1]);
    std::fflush(stdout);
    while (std::getchar() != EOF) {
    }
    return 0;
}
