"""Concurrent appends extend one chain (no fork, no gap, no duplicate seq), and batch appends
keep up with a city's control loop (≥ 1,000 records/s)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from clearway.storage.audit import AuditEntry, AuditKind, AuditLog
from clearway.storage.models import AuditRecordRow

THREADS, ROUNDS = 6, 15
#: What the control loop of a 200-signal city needs is ~15 records/s; 1,000/s leaves room
#: for bursts (a whole corridor switching at once) and slow disks.
MIN_RATE_PER_S = 1000.0


def test_appends_from_several_threads_form_one_chain(sessions):
    log = AuditLog(sessions)
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(ROUNDS):
                if i % 3 == 0:  # batches and single appends interleave
                    log.append_many(
                        AuditEntry(
                            AuditKind.SIGNAL_APPROVED,
                            f"t{n}",
                            junction_id=f"J{k}",
                            payload={"i": i, "k": k},
                        )
                        for k in range(3)
                    )
                else:
                    log.append(AuditKind.REQUEST, principal=f"t{n}", payload={"i": i})
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    reports = []

    def verifier() -> None:
        # Verifying while others append must never see a half-written state.
        while any(t.is_alive() for t in threads):
            reports.append(log.verify())

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    checker = threading.Thread(target=verifier)
    checker.start()
    for t in [*threads, checker]:
        t.join(timeout=120)
    assert not errors, errors
    assert reports and all(r.ok for r in reports), [r.message for r in reports if not r.ok]
    per_thread = sum(3 if i % 3 == 0 else 1 for i in range(ROUNDS))
    total = THREADS * per_thread
    with sessions() as s:
        seqs = s.scalars(select(AuditRecordRow.seq).order_by(AuditRecordRow.seq)).all()
        links = s.scalar(select(func.count(func.distinct(AuditRecordRow.prev_hash))))
    assert seqs == list(range(1, total + 1))
    assert links == total  # a fork would give two records the same predecessor
    report = log.verify()
    assert report.ok and report.checked == total, report.message


def test_batch_append_rate(sessions, backend, capsys):
    log = AuditLog(sessions)
    n, per_tick = 3000, 300
    entries = [
        AuditEntry(
            AuditKind.SIGNAL_APPROVED,
            "controller",
            junction_id=f"J{i % 200}",
            payload={"state": "GGGrrrGGGrrr", "source": "max-pressure", "time_s": i * 0.1},
        )
        for i in range(n)
    ]
    t0 = time.perf_counter()
    for k in range(0, n, per_tick):
        log.append_many(entries[k : k + per_tick])
    rate = n / (time.perf_counter() - t0)
    with capsys.disabled():
        print(f"\n[{backend}] audit batch append: {rate:,.0f} records/s ({per_tick} per commit)")
    assert rate >= MIN_RATE_PER_S
    assert log.verify().ok
