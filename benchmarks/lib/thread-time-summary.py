#!/usr/bin/env python3
# Where a process's threads spent the time a dotnet-trace sampled-thread-time recording saw, from its speedscope
# conversion (dotnet-trace convert FILE.nettrace --format Speedscope -o FILE): time whose innermost managed frame is
# a wait is left out; the rest is shared among frames, exclusive (the frame itself) and inclusive (it and below).
# Native time under the socket event loop (epoll) cannot be told apart from waiting in it.
#   usage: benchmarks/lib/thread-time-summary.py FILE.speedscope.json [top]
import collections
import json
import sys

WAITS = ('WaitForSignal', 'WaitOneNoCheck', 'WaitNative', 'Monitor.Wait', 'Thread.Sleep', 'WaitHandle.Wait',
         'WaitForSocketEvents', 'SleepEx', 'ReleaseSemaphore')
PSEUDO = ('UNMANAGED_CODE_TIME', 'CPU_TIME')

data = json.load(open(sys.argv[1]))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
frames = [f['name'] for f in data['shared']['frames']]
inclusive, exclusive = collections.Counter(), collections.Counter()
running = total = 0.0
for profile in data['profiles']:
    stack, last = [], None
    for event in profile['events']:
        if last is not None and stack:
            elapsed = event['at'] - last
            total += elapsed
            real = [f for f in stack if frames[f] not in PSEUDO]
            leaf = frames[real[-1]] if real else '?'
            if not any(w in leaf for w in WAITS):
                running += elapsed
                exclusive[leaf] += elapsed
                for f in set(stack):
                    inclusive[frames[f]] += elapsed
        last = event['at']
        if event['type'] == 'O':
            stack.append(event['frame'])
        else:
            stack.pop()

print(f"not waiting: {running:.0f} ms of {total:.0f} ms of sampled thread time ({100 * running / max(total, 1):.1f}%)")
print("-- exclusive, share of the time not waiting")
for name, t in exclusive.most_common(top):
    print(f"{100 * t / running:5.1f}%  {name[:140]}")
print("-- inclusive")
for name, t in inclusive.most_common(top * 2):
    print(f"{100 * t / running:5.1f}%  {name[:140]}")
