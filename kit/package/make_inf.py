#!/usr/bin/python3
"""make_inf.py - writes the INF of a legacy (non-PnP) kernel driver, the WDK's "primitive driver"
form: [DefaultInstall.NT<arch>] copies the .sys into the driver store (DIRID 13) and its .Services
section adds the kernel service. kmd_add_driver() runs it for every driver (kit/cmake/KmdDriver.cmake);
kit/lint/inf_lint.py checks what it wrote. See docs/images.md, "The driver package".

  make_inf.py --name NAME --sys NAME.sys --arch x64|x86 --out NAME.inf
              [--provider TEXT] [--version 1.0.0.0] [--date MM/DD/YYYY] [--dirid 13|12]
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

ARCH_DECORATION = {"x64": "NTamd64", "x86": "NTx86"}
# The "System devices" setup class: what Microsoft's samples give a software-only kernel service.
SYSTEM_CLASS_GUID = "{4d36e97d-e325-11ce-bfc1-08002be10318}"


def build_date(explicit: str | None) -> str:
    """DriverVer's date: --date, else SOURCE_DATE_EPOCH (reproducible builds), else today (as stampinf)."""
    if explicit:
        return explicit
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    day = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else datetime.datetime.now(datetime.timezone.utc)
    return day.strftime("%m/%d/%Y")


def inf_text(name: str, sys_file: str, arch: str, provider: str, version: str, date: str, dirid: int) -> str:
    deco = ARCH_DECORATION[arch]
    return f"""; {name}.inf - the driver package of {sys_file}: a legacy (non-PnP) kernel-mode service,
; installed as a primitive driver. Written by the Skeleton KMD kit (kit/package/make_inf.py).
;
; Windows 10 1903 and later (test-signed: bcdedit /set testsigning on):
;   pnputil /add-driver {name}.inf /install      then: sc start {name}
; Older Windows: rundll32 setupapi.dll,InstallHinfSection DefaultInstall.{deco} 132 .\\{name}.inf

[Version]
Signature   = "$WINDOWS NT$"
Class       = System
ClassGuid   = {SYSTEM_CLASS_GUID}
Provider    = %ProviderName%
DriverVer   = {date},{version}
CatalogFile = {name}.cat
PnpLockdown = 1

[DestinationDirs]
DefaultDestDir = {dirid}

[SourceDisksNames]
1 = %DiskName%,,,""

[SourceDisksFiles]
{sys_file} = 1,,

[DefaultInstall.{deco}]
CopyFiles = {name}.CopyFiles

[DefaultInstall.{deco}.Services]
AddService = {name},,{name}.Service

[{name}.CopyFiles]
{sys_file}

[{name}.Service]
DisplayName   = %ServiceDisplayName%
ServiceType   = 1 ; SERVICE_KERNEL_DRIVER
StartType     = 3 ; SERVICE_DEMAND_START
ErrorControl  = 1 ; SERVICE_ERROR_NORMAL
ServiceBinary = %{dirid}%\\{sys_file}

[Strings]
ProviderName       = "{provider}"
DiskName           = "{name} installation disk"
ServiceDisplayName = "{name}"
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make_inf.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True, help="the service name")
    parser.add_argument("--sys", required=True, help="the driver file the package holds (its name goes in the INF)")
    parser.add_argument("--arch", required=True, choices=sorted(ARCH_DECORATION))
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--provider", default="Skeleton KMD kit")
    parser.add_argument("--version", default="1.0.0.0")
    parser.add_argument("--date")
    parser.add_argument("--dirid", type=int, default=13, choices=(12, 13),
                        help="13: the driver store (Windows 10 1709+, pnputil); 12: %%SystemRoot%%\\System32\\drivers (older Windows)")
    args = parser.parse_args(argv)
    text = inf_text(args.name, Path(args.sys).name, args.arch, args.provider, args.version, build_date(args.date), args.dirid)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # CRLF: what Windows' own INF tools write and every INF parser reads.
    args.out.write_bytes(text.replace("\n", "\r\n").encode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
