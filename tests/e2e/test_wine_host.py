"""The kit's Wine host shim (kit/winehost/kmdhost.cpp) for a driver that knows nothing of it.

slow_dispatch.sys (tests/drivers/slow_dispatch.c) is plain C written as for Windows: no unload
guard, and one IOCTL that sleeps 500 ms inside its dispatch routine. Stopped while that request
sleeps, Wine 8 calls DriverUnload at once and unmaps the image, so the request wakes up in freed
code and the host dies. With the shim, DriverUnload waits until the request has left, as the
Windows I/O manager would. Both halves are deterministic: the stop is sent only once the driver
has said it is asleep inside dispatch."""
import time
import unittest

from e2e_support import BIN_DIR, KMDCTL, Box, dbgprint_lines

SLEEP_IOCTL = "0x222480"  # CTL_CODE(FILE_DEVICE_UNKNOWN, 0x920, METHOD_BUFFERED, FILE_ANY_ACCESS)
CRASH_MARKERS = ("Unhandled page fault", "Unhandled exception", "unhandled exception")


class WineHostShim(unittest.TestCase):
    def stop_mid_request(self, name: str, env: dict[str, str]):
        box = Box(name).create()
        self.addCleanup(box.close)
        for args in (["install", BIN_DIR / "slow_dispatch.sys", "--name", "slow_dispatch"], ["start", "slow_dispatch"]):
            r = box.run([KMDCTL, *args], env=env)
            self.assertEqual(0, r.returncode, r.describe())
        client = box.spawn([KMDCTL, "ioctl", SLEEP_IOCTL, "--device", r"\\.\slow_dispatch", "--out-size", "0"], env=env)
        deadline = time.monotonic() + 30
        while "slow_dispatch: sleeping inside dispatch" not in box.kernel_log_text():
            self.assertLess(time.monotonic(), deadline, "the request never reached the driver")
            time.sleep(0.02)
        stop = box.run([KMDCTL, "stop", "slow_dispatch"], env=env)
        out, err = client.communicate(timeout=60)
        time.sleep(1.0)  # a dying host's last words
        return box, stop, client.returncode, out + err, box.kernel_log_text()

    def test_with_the_shim_unload_waits_for_the_request_inside(self):
        box, stop, client_rc, client_out, log = self.stop_mid_request("wine-host-on", {})
        self.assertEqual(0, stop.returncode, stop.describe())
        self.assertEqual(0, client_rc, client_out)
        lines = dbgprint_lines(log)
        self.assertTrue(any("kmdhost: ready" in l for l in lines), lines)
        self.assertLess(lines.index("slow_dispatch: awake, completing"), lines.index("slow_dispatch: unloaded"), lines)
        self.assertTrue(any(l.startswith("kmdhost: \\Driver\\slow_dispatch unloaded; its requests settled in") for l in lines), lines)
        self.assertFalse([l for l in log.splitlines() if any(m in l for m in CRASH_MARKERS)], log[-3000:])
        again = box.run([KMDCTL, "start", "slow_dispatch"])  # same host, same session: it is alive
        self.assertEqual(0, again.returncode, again.describe())
        box.run([KMDCTL, "stop", "slow_dispatch"])
        box.run([KMDCTL, "remove", "slow_dispatch"])

    def test_without_the_shim_wine_unloads_under_the_request_and_the_host_dies(self):
        # KMD_WINE_HOST=0: what Wine does by itself, the failure the shim exists for.
        box, stop, client_rc, client_out, log = self.stop_mid_request("wine-host-off", {"KMD_WINE_HOST": "0"})
        lines = dbgprint_lines(log)
        self.assertFalse(any("kmdhost:" in l for l in lines), lines)
        self.assertIn("slow_dispatch: unloaded", lines)
        self.assertNotIn("slow_dispatch: awake, completing", lines, "the request came back to an unloaded image")
        self.assertTrue([l for l in log.splitlines() if any(m in l for m in CRASH_MARKERS)],
                        f"the host survived: {log[-3000:]}")
        self.assertNotEqual(0, client_rc, client_out)


if __name__ == "__main__":
    unittest.main()
