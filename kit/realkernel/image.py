#!/usr/bin/python3
"""image - turns a stock ReactOS bootcd ISO into one that installs itself for the lane, and the
installed disk into one that boots with the kernel debugger on COM1 and runs the payload.

Nothing here knows how ReactOS is built; it only edits what is on the user's ISO and disk:

- remaster(): a copy of the ISO (xorriso, boot records replayed as they were) with
  /reactos/unattend.inf replaced (unattended setup on disk 0 partition 1, FAT, no Gecko prompt), /reactos/kmdlane.inf added
  (registry: the Debug Print Filter so DbgPrintEx(DPFLTR_IHVDRIVER_ID, ...) reaches the debugger,
  no hard-error popups, an AeDebug that ends a crashing program, and a Run value that starts C:\\kmdlane.cmd at every logon) and /reactos/txtsetup.sif told to
  import it with the other hive INFs ([HiveInfs.Install] AddReg = kmdlane.inf,AddReg).
  The CD's own /freeldr.ini boots setup with the same debugger options (patch_bootcd_ini).
- prepare_installed(): on the installed raw disk (FAT, read with mtools), freeldr.ini's default entry
  becomes "ReactOS (Skeleton KMD lane)" with /DEBUG /DEBUGPORT=COM1 /BAUDRATE=115200 /SOS /KDSERIAL
  and no timeout, whatever the ISO's build made the default; and C:\\kmdlane.cmd is written: it
  looks for a disk carrying KMDLANE.TAG and runs its run.cmd.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

LANE_IMAGE_VERSION = "2"  # part of the install cache key: bump when what is put into the image changes
DEBUG_OPTIONS = "/DEBUG /DEBUGPORT=COM1 /BAUDRATE=115200 /SOS /KDSERIAL"
LANE_ENTRY = "KmdLane"
FILTER_KEY = r"SYSTEM\CurrentControlSet\Control\Session Manager\Debug Print Filter"

UNATTEND_INF = r"""[Unattend]
Signature = "$ReactOS$"
UnattendSetupEnabled = yes
DestinationDiskNumber = 0
DestinationPartitionNumber = 1
InstallationDirectory=ReactOS
BootLoaderLocation=2
FullName="Skeleton KMD lane"
ComputerName="KMDLANE"
TimeZoneIndex=85
FormatPartition=1
AutoPartition = 1
FsType = 0
DisableGeckoInst = yes
LocaleID = 409
ProductOption = 0

"""

# Imported by text-mode setup into the new system's hives, like the ISO's own registry.inf.
KMDLANE_INF = r"""[Version]
Signature = "$Windows NT$"

[AddReg]
; DbgPrintEx(DPFLTR_IHVDRIVER_ID, <any level>, ...) reaches the kernel debugger (NT filters it otherwise)
HKLM,"SYSTEM\CurrentControlSet\Control\Session Manager\Debug Print Filter","IHVDRIVER",0x00010001,0xffffffff
; no hard-error popups (a missing import, an unhandled exception): nobody is there to press OK;
; logged instead, and the program ends as if OK had been pressed
HKLM,"SYSTEM\CurrentControlSet\Control\Windows","ErrorMode",0x00010001,0x00000002
; a user-mode program that crashes is ended at once (its "debugger" is a cmd that exits), and
; kernel32 says so on COM1 ("Starting debugger: ... kmdlane: a user-mode program crashed")
HKLM,"SOFTWARE\Microsoft\Windows NT\CurrentVersion\AeDebug","Auto",0x00000000,"1"
HKLM,"SOFTWARE\Microsoft\Windows NT\CurrentVersion\AeDebug","Debugger",0x00000000,"cmd.exe /c rem kmdlane: a user-mode program crashed (pid %ld, event %ld)"
; the lane's payload runner, at every logon (C:\kmdlane.cmd does nothing unless a payload disk is attached)
HKLM,"SOFTWARE\Microsoft\Windows\CurrentVersion\Run","KmdLane",0x00000000,"C:\kmdlane.cmd"
"""

# C:\kmdlane.cmd: run the first payload disk's run.cmd (a disk with KMDLANE.TAG in its root).
KMDLANE_CMD = "\r\n".join([
    "@echo off",
    "for %%d in (D E F G H I J K L M N O P Q R S T U V W X Y Z) do if exist %%d:\\KMDLANE.TAG %%d:\\RUN.CMD %%d:",
    "",
])


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _xorriso(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    tool = shutil.which("xorriso")
    if not tool:
        raise RuntimeError("xorriso is not installed (apt-get install xorriso)")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=timeout)


def iso_read(iso: Path, iso_path: str) -> bytes | None:
    """One file's bytes from an ISO 9660 image (Joliet/Rock Ridge names), or None if absent."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "f"
        r = _xorriso("-osirrox", "on", "-indev", str(iso), "-extract", iso_path, str(out))
        return out.read_bytes() if r.returncode == 0 and out.is_file() else None


def iso_list(iso: Path, iso_dir: str) -> list[str]:
    r = _xorriso("-indev", str(iso), "-lsl", iso_dir)
    return [line.split()[-1].strip("'") for line in r.stdout.splitlines() if line[:1] in "-d"]


def patch_txtsetup(text: str) -> str:
    """txtsetup.sif with kmdlane.inf imported after the ISO's own hive INFs (idempotent)."""
    if "kmdlane.inf,AddReg" in text:
        return text
    m = re.search(r"^\[HiveInfs\.(?:Install|Fresh)\][^\n]*\n", text, re.M | re.I)
    if not m:
        raise ValueError("txtsetup.sif has no [HiveInfs.Install] section: not a ReactOS bootcd?")
    # after the section's last line
    end = text.find("\n[", m.end())
    end = len(text) if end < 0 else end + 1
    body = text[m.end():end].rstrip("\r\n")
    nl = "\r\n" if "\r\n" in text else "\n"
    return text[:m.end()] + body + nl + "AddReg = kmdlane.inf,AddReg" + nl + (nl if end < len(text) else "") + text[end:]


def patch_bootcd_ini(text: str) -> str:
    """The CD's freeldr.ini booting setup itself with the debugger on COM1 (so setup's own log and
    any assertion prompt reach the lane), no menu timeout."""
    nl = "\r\n" if "\r\n" in text else "\n"
    if f"[{LANE_ENTRY}Setup]" in text:
        return text
    text = re.sub(r"(?im)^(DefaultOS|TimeOut)=.*\r?\n", "", text)
    text = re.sub(r"(?im)^\[FREELOADER\][^\n]*\n", lambda m: m.group(0) + f"DefaultOS={LANE_ENTRY}Setup{nl}TimeOut=0{nl}", text, count=1)
    text = re.sub(r"(?im)^\[Operating Systems\][^\n]*\n",
                  lambda m: m.group(0) + f'{LANE_ENTRY}Setup="Setup (Skeleton KMD lane)"{nl}', text, count=1)
    return text.rstrip("\r\n") + nl + nl + f"[{LANE_ENTRY}Setup]{nl}BootType=ReactOSSetup{nl}Options={DEBUG_OPTIONS}{nl}"


def remaster(src: Path, dst: Path) -> None:
    """dst: src with the lane's answer file, registry INF and txtsetup.sif (see the module doc)."""
    txtsetup = iso_read(src, "/reactos/txtsetup.sif")
    if txtsetup is None:
        raise ValueError(f"{src}: no /reactos/txtsetup.sif - not a ReactOS bootcd ISO")
    patched = patch_txtsetup(txtsetup.decode("latin-1")).encode("latin-1")
    bootcd_ini = iso_read(src, "/freeldr.ini")
    extra = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "unattend.inf").write_bytes(UNATTEND_INF.replace("\n", "\r\n").encode("ascii"))
        (t / "kmdlane.inf").write_bytes(KMDLANE_INF.replace("\n", "\r\n").encode("ascii"))
        (t / "txtsetup.sif").write_bytes(patched)
        if bootcd_ini is not None and b"[FREELOADER]" in bootcd_ini.upper():
            (t / "freeldr.ini").write_bytes(patch_bootcd_ini(bootcd_ini.decode("latin-1")).encode("latin-1"))
            extra = ["-map", str(t / "freeldr.ini"), "/freeldr.ini"]
        dst.unlink(missing_ok=True)
        # names as ReactOS writes them (lowercase, no ";1", long): FreeLoader reads the plain ISO 9660 tree
        r = _xorriso("-indev", str(src), "-outdev", str(dst), "-joliet", "on",
                     "-compliance", "lowercase:omit_version:no_force_dots:long_names:long_paths:deep_paths",
                     "-map", str(t / "unattend.inf"), "/reactos/unattend.inf",
                     "-map", str(t / "kmdlane.inf"), "/reactos/kmdlane.inf",
                     "-map", str(t / "txtsetup.sif"), "/reactos/txtsetup.sif", *extra,
                     "-boot_image", "any", "replay", timeout=600)
        if r.returncode != 0 or not dst.is_file():
            raise RuntimeError(f"xorriso failed ({r.returncode}):\n{r.stderr[-2000:]}")


# The install is over when the installed system starts its first logon boot: text-mode setup's
# boot, GUI setup's boot, then this one - the kernel's banner (kd64/kdinit.c) for the third time.
# The lane stops the VM there, before anything of that boot is written: a first logon that is
# shut down (GuiRunOnce) left a profile ReactOS could not load again ("WL: LoadUserProfileW()
# failed"), as its shutdown ends in bug check 0xC000021A. Each run then makes its own first logon
# on a throw-away overlay.
_KERNEL_BANNER = re.compile(r"kdinit\.c:\d+\) ReactOS ")
INSTALL_BOOTS = 3


def install_complete(log: str) -> bool:
    return len(_KERNEL_BANNER.findall(log)) >= INSTALL_BOOTS


# --- the installed disk (raw), through mtools ------------------------------------------------------

def first_partition_offset(disk: Path) -> int:
    """Byte offset of the first used MBR partition entry."""
    with open(disk, "rb") as f:
        mbr = f.read(512)
    if mbr[510:512] != b"\x55\xaa":
        raise ValueError(f"{disk}: no MBR (setup did not partition it)")
    for i in range(4):
        entry = mbr[446 + 16 * i: 462 + 16 * i]
        ptype, start = entry[4], struct.unpack_from("<I", entry, 8)[0]
        if ptype != 0 and start:
            return start * 512
    raise ValueError(f"{disk}: empty partition table")


def _mtools(tool: str, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([tool, *args], capture_output=True, text=True, timeout=120,
                       env={"MTOOLS_SKIP_CHECK": "1", "MTOOLS_NO_VFAT": "0", "PATH": "/usr/bin:/bin"})
    if r.returncode != 0:
        raise RuntimeError(f"{tool} {' '.join(args)}: {r.stderr.strip()}")
    return r


def fat_read(disk: Path, offset: int, path: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "f"
        _mtools("mcopy", "-n", "-i", f"{disk}@@{offset}", f"::{path}", str(out))
        return out.read_bytes()


def fat_write(disk: Path, offset: int, path: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "f"
        src.write_bytes(data)
        _mtools("mcopy", "-o", "-i", f"{disk}@@{offset}", str(src), f"::{path}")


def patch_freeldr_ini(text: str, options: str = DEBUG_OPTIONS) -> str:
    """freeldr.ini whose default entry is the lane's: the installed system's first entry's
    SystemPath, booted with `options`, no menu timeout (idempotent)."""
    nl = "\r\n" if "\r\n" in text else "\n"
    sections: list[list] = []  # [name, [lines]]
    for line in text.splitlines():
        m = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
        if m:
            sections.append([m.group(1), []])
        elif sections:
            sections[-1][1].append(line)
        elif line.strip():
            sections.append(["", [line]])
    names = {s[0].lower(): s for s in sections}
    oses = names.get("operating systems")
    if oses is None:
        raise ValueError("freeldr.ini has no [Operating Systems] section")
    entries = [l.split("=", 1)[0].strip() for l in oses[1] if "=" in l and not l.lstrip().startswith(";")]
    base = next((names[e.lower()] for e in entries if e.lower() in names and e != LANE_ENTRY), None)
    if base is None:
        raise ValueError("freeldr.ini: no operating system entry to copy")
    keep = [l for l in base[1] if l.split("=", 1)[0].strip().lower() in ("boottype", "systempath")]
    if not any(l.split("=", 1)[0].strip().lower() == "boottype" for l in keep):
        keep.insert(0, "BootType=Windows2003")
    lane = [LANE_ENTRY, keep + [f"Options={options}"]]
    if LANE_ENTRY.lower() in names:
        names[LANE_ENTRY.lower()][1] = lane[1]
    else:
        oses[1] = [l for l in oses[1] if l.strip()] + [f'{LANE_ENTRY}="ReactOS (Skeleton KMD lane)"']
        sections.append(lane)
    fl = names.get("freeloader")
    if fl is None:
        fl = ["FREELOADER", []]
        sections.insert(0, fl)
    fl[1] = [l for l in fl[1] if l.split("=", 1)[0].strip().lower() not in ("defaultos", "timeout") and l.strip()]
    fl[1] += [f"DefaultOS={LANE_ENTRY}", "TimeOut=0"]
    out = []
    for name, lines in sections:
        if name:
            out.append(f"[{name}]")
        out += [l for l in lines if l.strip()]
        out.append("")
    return nl.join(out)


def prepare_installed(disk: Path) -> str:
    """The installed raw disk made ready for runs (see the module doc); returns the new freeldr.ini."""
    offset = first_partition_offset(disk)
    ini = fat_read(disk, offset, "/freeldr.ini").decode("latin-1")
    new = patch_freeldr_ini(ini)
    fat_write(disk, offset, "/freeldr.ini", new.encode("latin-1"))
    fat_write(disk, offset, "/kmdlane.cmd", KMDLANE_CMD.encode("ascii"))
    return new
