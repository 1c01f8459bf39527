#!/usr/bin/env python3
# Run as root: python3 benches/capture_many.py target/release/patchwire (see docs/benchmarks.md).
"""300 interfaces (150 veth pairs) in one namespace: how long `capture` takes to start (spawn
to "capturing on") and to stop (SIGINT to exit), three rounds."""
import os, signal, subprocess, sys, time
BIN = sys.argv[1]
NS = f"pwt-fx18bench-{os.getpid()}"
subprocess.run(["ip", "netns", "add", NS], check=True)
try:
    with open("/tmp/fx18_batch", "w") as f:
        for i in range(1, 151):
            f.write(f"link add a{i} type veth peer name b{i}\n")
        for i in range(1, 151):
            f.write(f"link set a{i} up\nlink set b{i} up\n")
    subprocess.run(["ip", "-n", NS, "-batch", "/tmp/fx18_batch"], check=True)
    names = [f"{p}{i}" for i in range(1, 151) for p in "ab"]
    for r in range(3):
        t0 = time.monotonic()
        p = subprocess.Popen([BIN, "-n", NS, "capture", "-w", "/tmp/fx18.pcapng", "-B", "1", *names],
                             stderr=subprocess.PIPE, text=True)
        line = p.stderr.readline()
        assert line.startswith("capturing on"), line
        t1 = time.monotonic()
        time.sleep(0.3)
        t2 = time.monotonic()
        p.send_signal(signal.SIGINT)
        p.stderr.read()
        p.wait()
        t3 = time.monotonic()
        print(f"round {r+1}: start {t1-t0:.2f} s, stop {t3-t2:.2f} s (exit {p.returncode})")
finally:
    subprocess.run(["ip", "netns", "del", NS])
