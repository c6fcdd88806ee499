#!/usr/bin/python3
"""Write the correct PE checksum into an image (lld leaves it 0; Windows checks it for drivers).

Usage: pe_checksum.py IMAGE [IMAGE...]   (needs Debian's python3-pefile: run with /usr/bin/python3)
"""
import sys

import pefile


def fix_checksum(path: str) -> int:
    pe = pefile.PE(path)
    checksum = pe.generate_checksum()
    pe.OPTIONAL_HEADER.CheckSum = checksum
    data = pe.write()
    pe.close()
    with open(path, "wb") as f:
        f.write(data)
    return checksum


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for path in argv[1:]:
        print(f"pe_checksum: {path}: 0x{fix_checksum(path):08x}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
