"""`kmdctl hello --gui` shows the driver's greeting in a message box, as the seed's loader does:
run under Xvfb, found by its window title, photographed, and the picture checked."""
import os
import re
import subprocess
import time
import unittest
from pathlib import Path

from e2e_support import BIN_DIR, DRIVER, KMDCTL, ROOT, Box

# ImageMagick's own binaries (a `convert` earlier on PATH may be something else).
CONVERT = "/usr/bin/convert"
IMPORT = "/usr/bin/import"
SHOTS = Path(os.environ.get("SKELETON_BIN_DIR", ROOT / "build" / "bin")).parent / "screenshots"
TITLE = "kmdctl hello"  # the message box of `kmdctl hello --gui`: the reply, titled by the verb


def free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


class GuiHello(unittest.TestCase):
    def setUp(self):
        n = free_display()
        self.display = f":{n}"
        self.xvfb = subprocess.Popen(["Xvfb", self.display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop_xvfb)
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{n}").exists():
            self.assertLess(time.monotonic(), deadline, "Xvfb did not start")
            time.sleep(0.1)
        self.box = Box("gui", env={"DISPLAY": self.display}).create()
        self.addCleanup(self.box.close)

    def stop_xvfb(self):
        self.xvfb.terminate()
        self.xvfb.wait(timeout=20)

    def find_window(self, timeout: float = 60):
        """(width, height, x, y) of the top-level window titled TITLE, once it is mapped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tree = subprocess.run(["xwininfo", "-display", self.display, "-root", "-tree"],
                                  capture_output=True, text=True).stdout
            for line in tree.splitlines():
                if f'"{TITLE}"' in line:
                    m = re.search(r"(\d+)x(\d+)\+(-?\d+)\+(-?\d+)\s+\+(-?\d+)\+(-?\d+)", line)
                    if m:
                        w, h, _, _, x, y = map(int, m.groups())
                        if w > 1 and h > 1:
                            return w, h, x, y
            time.sleep(0.5)
        self.fail(f"no window titled {TITLE!r} appeared")

    def test_message_box_shows_the_greeting(self):
        self.assertEqual(0, self.box.run([KMDCTL, "install", DRIVER]).returncode)
        self.assertEqual(0, self.box.run([KMDCTL, "start"]).returncode)
        hello = self.box.spawn([KMDCTL, "hello", "--gui"])
        try:
            self.assertEqual("Hello from ring 0! The skeleton KMD answers SERVICE_SAY_HELLO.", hello.stdout.readline().strip())
            w, h, x, y = self.find_window()
            time.sleep(1.0)  # let Wine paint the text
            SHOTS.mkdir(parents=True, exist_ok=True)
            shot = SHOTS / "kmdctl-hello-gui.png"
            subprocess.run([IMPORT, "-display", self.display, "-window", "root", str(shot)], check=True)
            dialog = SHOTS / "kmdctl-hello-gui-dialog.png"
            subprocess.run([CONVERT, str(shot), "-crop", f"{w}x{h}+{x}+{y}", "+repage", str(dialog)], check=True)
            stats = subprocess.run([CONVERT, str(dialog), "-format", "%w %h %k %[fx:standard_deviation]", "info:"],
                                   capture_output=True, text=True, check=True).stdout.split()
            width, height, colours, deviation = int(stats[0]), int(stats[1]), int(stats[2]), float(stats[3])
            # A message box with a line of text: a sensible size, and far from one flat colour.
            self.assertTrue(200 <= width <= 1024 and 80 <= height <= 400, stats)
            self.assertGreater(colours, 8, f"the dialog is nearly blank: {stats}")
            self.assertGreater(deviation, 0.05, f"the dialog is nearly blank: {stats}")
            # The text is wide: dark pixels span much of the dialog's width.
            dark = subprocess.run([CONVERT, str(dialog), "-colorspace", "gray", "-threshold", "50%", "-negate", "-trim",
                                   "-format", "%w", "info:"], capture_output=True, text=True).stdout.strip()
            self.assertGreater(int(dark or 0), width // 2, "no line of text across the dialog")
        finally:
            hello.kill()
            hello.communicate()
        self.box.run([KMDCTL, "remove"])


if __name__ == "__main__":
    unittest.main()
