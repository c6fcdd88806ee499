# Run by test_debugging.py once gdb stopped at skeleton_g.sys's DriverEntry (kmd_debug.py entry).
bt 4
next
detach
