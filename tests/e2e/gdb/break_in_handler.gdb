# Run by test_debugging.py after gdb connected to the host of skeleton_g.sys: stop in the
# REVERSE_BUFFERED handler when the test's IOCTL arrives, show the stack, let the request finish.
break reverse_buffered
continue
bt
print in.size
detach
