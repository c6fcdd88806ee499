// requests.cpp - the IOCTL table and its handlers. No NT calls: see requests.hpp.
#include "requests.hpp"

#include <skeleton/ioctl.h>

namespace skeleton::core {
namespace {

constexpr char kGreeting[] = "Hello from ring 0! The skeleton KMD answers SERVICE_SAY_HELLO.";

constexpr Result fail(uint32_t s) { return Result{s, 0}; }

// IOCTL_SKELETON_SAY_HELLO: the whole greeting or nothing.
Result say_hello(ConstBytes, MutableBytes out)
{
    if (out.data == nullptr || out.size < sizeof kGreeting) return fail(status::buffer_too_small);
    __builtin_memcpy(out.data, kGreeting, sizeof kGreeting);
    return Result{status::success, sizeof kGreeting};
}

// Shared length rules of the two transforms (REVERSE_BUFFERED, ECHO_NEITHER).
uint32_t check_transform_lengths(ConstBytes in, MutableBytes out)
{
    if (in.size > SKELETON_MAX_TRANSFER) return status::invalid_parameter;
    if (in.size > 0 && in.data == nullptr) return status::invalid_parameter;
    if (out.size < in.size || (in.size > 0 && out.data == nullptr)) return status::buffer_too_small;
    return status::success;
}

// IOCTL_SKELETON_REVERSE_BUFFERED. `in` and `out` may be the same system buffer: memmove takes
// all of the input first, then the bytes are reversed in place in the output.
Result reverse_buffered(ConstBytes in, MutableBytes out)
{
    if (uint32_t s = check_transform_lengths(in, out); s != status::success) return fail(s);
    if (in.size == 0) return Result{status::success, 0};
    // The driver passes one system buffer as both; copying it onto itself would be a whole extra
    // pass over up to 1 MiB for nothing.
    if (out.data != in.data) __builtin_memmove(out.data, in.data, in.size);
    unsigned char* const p = out.data; // a local: byte stores could alias `out` itself
    for (size_t lo = 0, hi = in.size - 1; lo < hi; ++lo, --hi) {
        unsigned char t = p[lo];
        p[lo] = p[hi];
        p[hi] = t;
    }
    return Result{status::success, in.size};
}

// IOCTL_SKELETON_VERIFY_IN_DIRECT: `data` is the caller's buffer, mapped through the MDL, read only.
Result verify_in_direct(ConstBytes in, ConstBytes data)
{
    if (in.data == nullptr || in.size < sizeof(skeleton_verify_request)) return fail(status::invalid_parameter);
    if (data.data == nullptr || data.size == 0 || data.size > SKELETON_MAX_TRANSFER) return fail(status::invalid_parameter);
    skeleton_verify_request request;
    __builtin_memcpy(&request, in.data, sizeof request);
    if (crc32(data.data, data.size) != request.expected_crc32) return fail(status::crc_error);
    return Result{status::success, data.size};
}

} // namespace

// Byte i = skeleton_pattern_byte(seed, i), written so the compiler vectorises it. On Win64 a
// MutableBytes argument is passed by address, and a byte store may alias anything, so a loop over
// `out.data[i] < out.size` re-reads both from memory every byte and cannot be vectorised: the
// pointer and the length are locals here. The multiply `index * 2654435761` becomes an induction
// variable (one add per byte, exact modulo 2^32, as the 32-bit arithmetic of the pattern is), which
// SSE2 can do four lanes at a time; x86 kernel builds (-mgeneral-regs-only) keep it scalar.
void fill_pattern(unsigned char* const data, const size_t size, const uint32_t seed)
{
    uint32_t mix = 0; // == (uint32_t)(i * 2654435761u)
    for (size_t i = 0; i < size; ++i, mix += 2654435761u) {
        uint32_t x = seed ^ mix;
        x ^= x >> 15;
        data[i] = static_cast<unsigned char>(x ^ (x >> 8));
    }
}

namespace {

// IOCTL_SKELETON_FILL_OUT_DIRECT: every byte of `out` is written, so no stale memory leaves.
Result fill_out_direct(ConstBytes in, MutableBytes out)
{
    if (in.data == nullptr || in.size < sizeof(skeleton_fill_request)) return fail(status::invalid_parameter);
    if (out.data == nullptr || out.size == 0 || out.size > SKELETON_MAX_TRANSFER) return fail(status::invalid_parameter);
    skeleton_fill_request request;
    __builtin_memcpy(&request, in.data, sizeof request);
    fill_pattern(out.data, out.size, request.seed);
    return Result{status::success, out.size};
}

// IOCTL_SKELETON_ECHO_NEITHER: the glue hands us captured kernel copies, never user addresses.
Result echo_neither(ConstBytes in, MutableBytes out)
{
    if (uint32_t s = check_transform_lengths(in, out); s != status::success) return fail(s);
    // The kit's METHOD_NEITHER capture is one buffer for both: then the echo is already in place.
    if (in.size > 0 && out.data != in.data) __builtin_memmove(out.data, in.data, in.size);
    return Result{status::success, in.size};
}

// max_in / max_out: what each handler can read and write at most (kmd/request.hpp). The glue
// refuses longer input before capturing it and sizes its METHOD_NEITHER capture by max_out, so
// SAY_HELLO into a 1 MiB buffer allocates 63 bytes, not 1 MiB. SAY_HELLO ignores its input (0).
// The contract's input-length rule (skeleton/ioctl.h): a struct row's max_in is its struct, and
// its handler refuses less, so it takes exactly the struct; a byte row's is SKELETON_MAX_TRANSFER.
// Each row's "input length:" line in the header must say the same (contract_tests.cpp).
constexpr RequestSpec kRequests[] = {
    {IOCTL_SKELETON_SAY_HELLO, "SAY_HELLO", 0, sizeof kGreeting, say_hello, nullptr},
    {IOCTL_SKELETON_REVERSE_BUFFERED, "REVERSE_BUFFERED", SKELETON_MAX_TRANSFER, SKELETON_MAX_TRANSFER, reverse_buffered, nullptr},
    {IOCTL_SKELETON_VERIFY_IN_DIRECT, "VERIFY_IN_DIRECT", sizeof(skeleton_verify_request), SKELETON_MAX_TRANSFER, nullptr,
     verify_in_direct},
    {IOCTL_SKELETON_FILL_OUT_DIRECT, "FILL_OUT_DIRECT", sizeof(skeleton_fill_request), SKELETON_MAX_TRANSFER, fill_out_direct,
     nullptr},
    {IOCTL_SKELETON_ECHO_NEITHER, "ECHO_NEITHER", SKELETON_MAX_TRANSFER, SKELETON_MAX_TRANSFER, echo_neither, nullptr},
};

constexpr kmd::RequestTable kTable = kmd::make_table(kRequests);

} // namespace

const kmd::RequestTable& table() { return kTable; }
const RequestSpec* requests_begin() { return kTable.begin; }
const RequestSpec* requests_end() { return kTable.end; }
const RequestSpec* find_request(uint32_t code) { return kTable.find(code); }

Result handle_device_control(uint32_t code, ConstBytes in, MutableBytes out)
{
    if (kmd::method_of(code) == kmd::kMethodInDirect) return kmd::dispatch_read(kTable, code, in, ConstBytes{out.data, out.size});
    return kmd::dispatch(kTable, code, in, out);
}

uint32_t check_delay_request(ConstBytes in, uint32_t& delay_ms)
{
    // Exactly the struct, as the table's struct rows (the contract's one input-length rule).
    if (in.data == nullptr || in.size != sizeof(skeleton_delay_request)) return status::invalid_parameter;
    skeleton_delay_request request;
    __builtin_memcpy(&request, in.data, sizeof request);
    if (request.delay_ms > SKELETON_MAX_DELAY_MS) return status::invalid_parameter;
    delay_ms = request.delay_ms;
    return status::success;
}

const char* greeting() { return kGreeting; }
size_t greeting_size() { return sizeof kGreeting; }

namespace {

// Slicing-by-8 tables: kCrcTables[0] is the classic byte table (reflected polynomial 0xEDB88320);
// kCrcTables[k][b] is the CRC of byte b followed by k zero bytes, so eight input bytes are folded
// with eight independent lookups instead of 64 dependent shift/xor steps. Built at compile time
// (8 KiB of read-only data in the image): nothing to initialise at DriverEntry, nothing to race.
struct CrcTables {
    uint32_t t[8][256];
};

constexpr CrcTables make_crc_tables()
{
    CrcTables tables{};
    for (uint32_t b = 0; b < 256; ++b) {
        uint32_t c = b;
        for (int bit = 0; bit < 8; ++bit) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        tables.t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b)
        for (int k = 1; k < 8; ++k) tables.t[k][b] = (tables.t[k - 1][b] >> 8) ^ tables.t[0][tables.t[k - 1][b] & 0xFFu];
    return tables;
}

constexpr CrcTables kCrc = make_crc_tables();
static_assert(kCrc.t[0][1] == 0x77073096u && kCrc.t[0][255] == 0x2D02EF8Du, "the standard CRC-32 byte table");

uint32_t load_le32(const unsigned char* p)
{
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
           static_cast<uint32_t>(p[3]) << 24;
}

} // namespace

uint32_t crc32(const unsigned char* data, size_t size, uint32_t crc)
{
    crc = ~crc;
    const auto& t = kCrc.t;
    for (; size >= 8; data += 8, size -= 8) {
        const uint32_t lo = load_le32(data) ^ crc; // the byte order is the algorithm's, not the CPU's
        const uint32_t hi = load_le32(data + 4);
        crc = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
              t[3][hi & 0xFFu] ^ t[2][(hi >> 8) & 0xFFu] ^ t[1][(hi >> 16) & 0xFFu] ^ t[0][hi >> 24];
    }
    for (; size > 0; ++data, --size) crc = (crc >> 8) ^ t[0][(crc ^ *data) & 0xFFu];
    return ~crc;
}

uint32_t crc32_bitwise(const unsigned char* data, size_t size, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < size; ++i) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

} // namespace skeleton::core
