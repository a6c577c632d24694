#!/usr/bin/env python3
"""simpy_peer.py - the engine benchmark's workload as a SimPy model, for
`make bench` to compare the engine with a discrete-event peer.

The same shape as tests/bench/bench.c: 2 CPUs, 8 threads each keeping 8
overlapped reads in flight (64 outstanding); each read runs its system call
and the file system -> volume -> disk dispatch path on a CPU, the disk takes
100 us, then its ISR, the DPC that completes it (the file system's
completion routine included) and the special kernel APC that sets the
request's event each take a CPU, the ISR ahead of the DPC ahead of threads.
Costs are those of the engine's 24 steps per IRP, lumped per stage.  It
models the timing, not the I/O manager: SimPy has no IRPs, no stack
locations, no IRQL - a peer for speed, not for behaviour.

Usage: simpy_peer.py IRPS.  Prints "IRPS irps SECONDS s RATE irp/s".
Works with SimPy 3/4 (module simpy) and SimPy 2 (module SimPy, Debian's
python3-simpy); exits 2 when neither is importable.
"""
import sys
import time

THREADS, SLOTS = 8, 8
LATENCY = 100_000                 # ns, the disk
DOWN, ISR, DPC, APC = 1_200, 300, 700, 500   # ns of CPU per stage
PRIO_ISR, PRIO_DPC, PRIO_THREAD = 0, 1, 2


def run_simpy3(simpy, irps):
    env = simpy.Environment()
    cpus = simpy.PriorityResource(env, capacity=2)
    quota = irps // THREADS
    done = [0]

    def on_cpu(prio, cost):
        with cpus.request(priority=prio) as r:
            yield r
            yield env.timeout(cost)

    def read(ev):
        yield env.process(on_cpu(PRIO_THREAD, DOWN))
        yield env.timeout(LATENCY)
        yield env.process(on_cpu(PRIO_ISR, ISR))
        yield env.process(on_cpu(PRIO_DPC, DPC))
        yield env.process(on_cpu(PRIO_DPC, APC))
        ev.succeed()

    def worker():
        issued = 0
        live = []
        while issued < quota and len(live) < SLOTS:
            ev = env.event()
            env.process(read(ev))
            live.append(ev)
            issued += 1
        finished = 0
        while finished < quota:
            yield env.any_of(live)
            for ev in [e for e in live if e.triggered]:
                live.remove(ev)
                finished += 1
                done[0] += 1
                if issued < quota:
                    nev = env.event()
                    env.process(read(nev))
                    live.append(nev)
                    issued += 1

    for _ in range(THREADS):
        env.process(worker())
    env.run()
    return done[0]


def run_simpy2(sim, irps):
    sim.initialize()
    cpus = sim.Resource(capacity=2, qType=sim.PriorityQ)
    quota = irps // THREADS
    done = [0]

    class Read(sim.Process):
        def run(self, ev):
            for prio, cost in ((PRIO_THREAD, DOWN), (None, LATENCY), (PRIO_ISR, ISR), (PRIO_DPC, DPC),
                               (PRIO_DPC, APC)):
                if prio is None:
                    yield sim.hold, self, cost
                    continue
                yield sim.request, self, cpus, -prio   # SimPy 2: higher is served first
                yield sim.hold, self, cost
                yield sim.release, self, cpus
            ev.signal()

    class Worker(sim.Process):
        def run(self):
            issued = finished = 0
            live = []
            while issued < quota and len(live) < SLOTS:
                ev = sim.SimEvent()
                self._start(ev)
                live.append(ev)
                issued += 1
            while finished < quota:
                yield sim.waitevent, self, live
                for ev in list(self.eventsFired):
                    live.remove(ev)
                    finished += 1
                    done[0] += 1
                    if issued < quota:
                        nev = sim.SimEvent()
                        self._start(nev)
                        live.append(nev)
                        issued += 1

        def _start(self, ev):
            r = Read()
            sim.activate(r, r.run(ev))

    for _ in range(THREADS):
        w = Worker()
        sim.activate(w, w.run())
    sim.simulate(until=10 ** 15)
    return done[0]


def main():
    irps = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    try:
        import simpy
        runner = lambda: run_simpy3(simpy, irps)
    except ImportError:
        try:
            import SimPy.Simulation as sim
            runner = lambda: run_simpy2(sim, irps)
        except ImportError:
            print("simpy_peer.py: SimPy is not installed", file=sys.stderr)
            sys.exit(2)
    t0 = time.perf_counter()
    n = runner()
    secs = time.perf_counter() - t0
    print(f"{n} irps {secs:.3f} s {n / secs:.1f} irp/s")


if __name__ == "__main__":
    main()
