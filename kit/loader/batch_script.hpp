// batch_script.hpp - the text `kmdctl batch FILE` runs: one step a line, each a command as a user
// would type it. Pure C++ (no Win32), so the host unit tests cover it.
//
// Under Wine every program start costs about 70 ms of CPU (wineserver, loader, DLL init), more
// than most kmdctl verbs take: a verifier run of hundreds of steps was mostly process starts. A
// batch runs its steps in one process, as cmd.exe would run them one after another:
//
//   kmdctl.exe install C:\drivers\mydrv.sys --name mydrv      a kmdctl verb (any path to kmdctl)
//   - kmdctl stop mydrv                                       '-': its exit status does not end the batch
//   reg add HKLM\Software\X /v Name /t REG_DWORD /d 5 /f       reg.exe's form: REG_DWORD or REG_SZ
//
// Words are separated by blanks; a word holding blanks is written in double quotes (no escapes:
// a backslash is a backslash, as in a Windows path). Empty lines and lines starting with '#' are
// skipped. Every line is checked before the first step runs: a batch with a bad line runs nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kmd {

struct BatchStep {
    enum class Kind { kmdctl, reg_value };
    size_t line = 0;      // 1-based, in the file
    bool may_fail = false;
    Kind kind = Kind::kmdctl;
    std::string text;     // the line as written, without the '-'
    // kmdctl: the words after the program (global options such as --trace, the verb, its arguments).
    std::vector<std::string> words;
    // reg_value: HKLM or HKCU, the key below it, the value's name and its data: a REG_DWORD's
    // number, or a REG_SZ's text.
    std::string root, key, value_name;
    bool is_text = false;
    uint32_t number = 0;
    std::string text_data;
};

struct BatchScript {
    std::vector<BatchStep> steps;
    std::string error; // empty when every line is a step; else "line N: why"
};

BatchScript parse_batch_script(std::string_view text);

// A line's words: blank-separated, "..." for a word with blanks; false on an unclosed quote.
bool split_batch_words(std::string_view line, std::vector<std::string>& words);

// The word a batch line puts first to run a kmdctl verb: kmdctl or kmdctl.exe, alone or at the end
// of a path (either slash), in any case.
bool names_kmdctl(std::string_view word);

// A word as split_batch_words reads it back: quoted when empty or holding a blank.
std::string batch_word(std::string_view word);

} // namespace kmd
