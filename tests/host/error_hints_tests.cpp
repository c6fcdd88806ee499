// error_hints_tests.cpp - kit/loader/error_hints.hpp: each error a beginner meets gets its cause in
// words, by step where the same number means different things.
#include "error_hints.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using kmd::Step;

std::string hint(uint32_t error, Step step = Step::Other)
{
    const char* h = kmd::error_hint(error, step);
    return h != nullptr ? h : "";
}

TEST(ErrorHints, EachBeginnersErrorHasItsCause)
{
    EXPECT_NE(std::string::npos, hint(577, Step::StartService).find("testsigning on"));
    EXPECT_NE(std::string::npos, hint(577, Step::StartService).find("Secure Boot off"));
    EXPECT_NE(std::string::npos, hint(1275, Step::StartService).find("blocked this driver by policy"));
    EXPECT_NE(std::string::npos, hint(1275, Step::StartService).find("wrong architecture"));
    EXPECT_NE(std::string::npos, hint(5, Step::ServiceManager).find("Administrator"));
    EXPECT_NE(std::string::npos, hint(193, Step::Other).find("native subsystem"));
    EXPECT_NE(std::string::npos, hint(216, Step::Other).find("other architecture"));
    EXPECT_NE(std::string::npos, hint(1058, Step::StartService).find("--start demand"));
    EXPECT_NE(std::string::npos, hint(1060, Step::OpenService).find("kmdctl install"));
    EXPECT_NE(std::string::npos, hint(1072, Step::CreateService).find("marked for deletion"));
    EXPECT_NE(std::string::npos, hint(1073, Step::CreateService).find("--force"));
}

TEST(ErrorHints, TheSameNumberMeansWhatItsStepMakesIt)
{
    EXPECT_NE(std::string::npos, hint(2, Step::StartService).find("image path"));
    EXPECT_NE(std::string::npos, hint(2, Step::OpenDevice).find("no such device"));
    EXPECT_NE(std::string::npos, hint(3, Step::Other).find("full path"));
    EXPECT_NE(std::string::npos, hint(5, Step::OpenDevice).find("SYSTEM and Administrators"));
}

TEST(ErrorHints, TheStepComesFromTheFailedCall)
{
    EXPECT_EQ(Step::StartService, kmd::step_of_call("StartService (again, after error 1359)"));
    EXPECT_EQ(Step::OpenDevice, kmd::step_of_call("CreateFile(\\\\.\\skeleton)"));
    EXPECT_EQ(Step::ServiceManager, kmd::step_of_call("OpenSCManager(SC_MANAGER_CONNECT)"));
    EXPECT_EQ(Step::CreateService, kmd::step_of_call("CreateService(\"skeleton\", ...)"));
    EXPECT_EQ(Step::OpenService, kmd::step_of_call("OpenService(skeleton, SERVICE_START)"));
    EXPECT_EQ(Step::Other, kmd::step_of_call("GetFileAttributes(C:\\x.sys)"));
}

TEST(ErrorHints, WhatTheErrorsOwnWordsSayIsNotRepeated)
{
    EXPECT_EQ(nullptr, kmd::error_hint(0, Step::Other));
    EXPECT_EQ(nullptr, kmd::error_hint(87, Step::Other));        // ERROR_INVALID_PARAMETER
    EXPECT_EQ(nullptr, kmd::error_hint(6, Step::StartService));          // explain_start_failure's, under Wine
}

TEST(ErrorHints, NoDbgPrintOutputIsExplainedWhereWindowsFiltersIt)
{
    const char* h = kmd::debug_print_hint(true, false);
    ASSERT_NE(nullptr, h);
    EXPECT_NE(std::string::npos, std::string(h).find("Debug Print Filter"));
    EXPECT_NE(std::string::npos, std::string(h).find("IHVDRIVER"));
    EXPECT_NE(std::string::npos, std::string(h).find("\\n")) << "a line without its newline is the other usual cause";
    EXPECT_EQ(nullptr, kmd::debug_print_hint(false, false)) << "this kernel does not filter";
    EXPECT_EQ(nullptr, kmd::debug_print_hint(true, true)) << "the filter is set";
}

TEST(ErrorHints, WhichKernelsFilterDebugPrint)
{
    EXPECT_TRUE(kmd::kernel_filters_debug_print(false, 6));   // Vista
    EXPECT_TRUE(kmd::kernel_filters_debug_print(false, 10));  // Windows 10, 11
    EXPECT_FALSE(kmd::kernel_filters_debug_print(false, 5));  // XP, Server 2003, ReactOS
    EXPECT_FALSE(kmd::kernel_filters_debug_print(true, 10));  // Wine, whatever version it reports
}

} // namespace
