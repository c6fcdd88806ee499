"""The test-signed driver: the signature verifies against the throw-away certificate, breaks when
one byte of the image changes, and the signed image still passes the lint and loads under Wine."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import pefile

from e2e_support import BIN_DIR, KMDCTL, ROOT, Box

SIGNED = BIN_DIR / "skeleton.signed.sys"
CERT = Path(os.environ.get("SKELETON_SIGNING_DIR", ROOT / "build" / "windows-x64" / "test-signing")) / "test-signing.crt"


def verify(image: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["osslsigncode", "verify", "-CAfile", str(CERT), "-in", str(image)],
                          capture_output=True, text=True)


class TestSigning(unittest.TestCase):
    def test_signature_verifies_against_the_build_certificate(self):
        result = verify(SIGNED)
        self.assertEqual(0, result.returncode, result.stdout + result.stderr)
        self.assertIn("Signature verification: ok", result.stdout)
        self.assertIn("Skeleton KMD test signing (throw-away)", result.stdout)

    def test_one_changed_byte_breaks_the_signature(self):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp)
        tampered = tmp / "tampered.sys"
        pe = pefile.PE(str(SIGNED))
        text = next(s for s in pe.sections if s.Name.startswith(b".text"))
        offset = text.PointerToRawData + 16
        pe.close()
        data = bytearray(SIGNED.read_bytes())
        data[offset] ^= 0xFF
        tampered.write_bytes(bytes(data))
        result = verify(tampered)
        self.assertNotEqual(0, result.returncode, result.stdout)
        self.assertNotIn("Signature verification: ok", result.stdout)

    def test_signed_image_passes_the_lint(self):
        result = subprocess.run([sys.executable, str(ROOT / "kit" / "lint" / "pe_lint.py"), str(SIGNED)], capture_output=True, text=True)
        self.assertEqual(0, result.returncode, result.stdout)
        pe = pefile.PE(str(SIGNED))
        security = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]]
        self.assertGreater(security.Size, 0, "the Authenticode signature lives in the security directory")
        pe.close()

    def test_a_certificate_near_expiry_is_renewed(self):
        """A build directory older than the certificate's 30 days must keep signing: a certificate
        that expires within a week is replaced, and the new signature verifies against it."""
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp)
        key, cert = tmp / "test-signing.key", tmp / "test-signing.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "1",
                        "-subj", "/CN=about to expire", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
        old = cert.read_bytes()
        out = tmp / "signed.sys"
        result = subprocess.run([str(ROOT / "kit" / "signing" / "test_sign.sh"), str(BIN_DIR / "skeleton.sys"), str(out), str(tmp)],
                                capture_output=True, text=True)
        self.assertEqual(0, result.returncode, result.stdout + result.stderr)
        self.assertIn("renewing", result.stdout)
        self.assertNotEqual(old, cert.read_bytes(), "the near-expiry certificate must have been replaced")
        check = subprocess.run(["osslsigncode", "verify", "-CAfile", str(cert), "-in", str(out)], capture_output=True, text=True)
        self.assertIn("Signature verification: ok", check.stdout)

    def test_signings_at_once_share_one_certificate(self):
        """A fresh build signs two images at once (skeleton.signed.sys and the package's copy): each
        run found no certificate and made its own, and one signature then failed against the
        certificate left on disk (seen in a clean-clone CI run: 'self-signed certificate')."""
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp)
        outs = [tmp / f"signed{n}.sys" for n in range(4)]
        runs = [subprocess.Popen([str(ROOT / "kit" / "signing" / "test_sign.sh"), str(BIN_DIR / "skeleton.sys"), str(out), str(tmp)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for out in outs]
        for run in runs:
            self.assertEqual(0, run.wait(timeout=120), run.stdout.read())
        for out in outs:
            check = subprocess.run(["osslsigncode", "verify", "-CAfile", str(tmp / "test-signing.crt"), "-in", str(out)],
                                   capture_output=True, text=True)
            self.assertIn("Signature verification: ok", check.stdout, f"{out.name}:\n{check.stdout}{check.stderr}")

    def test_signed_image_loads_and_answers(self):
        with Box("signed") as box:
            result = box.run([KMDCTL, "run", SIGNED])
            self.assertEqual(0, result.returncode, result.describe())
            self.assertIn('the driver says: "Hello from ring 0!', result.stdout)


if __name__ == "__main__":
    unittest.main()
