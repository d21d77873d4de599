"""A linearizability checker for the history of one register, after Wing &
Gong with Lowe's memoization (the search Knossos and Porcupine make).

An operation is a dict: kind ("read" or "write"), value (the value written,
or the value the read returned), start and end (times; end None when the
outcome is unknown: a write that may or may not have taken effect, which
is then pending until the end of the history). Failed operations (known
not to have happened) and reads whose outcome is unknown are left out by
the caller.

check(ops, initial) is True when some order of the operations, each taking
effect at one instant between its start and its end, is a legal sequence
of a register starting at initial: every read returns the last value
written before it.
"""

INF = float("inf")


class _Entry:
    __slots__ = ("op", "is_call", "match", "prev", "next", "id")

    def __init__(self, op, is_call, id):
        self.op = op
        self.is_call = is_call
        self.id = id
        self.match = None
        self.prev = None
        self.next = None


def _build(ops):
    events = []
    for i, op in enumerate(ops):
        end = INF if op.get("end") is None else op["end"]
        if end < op["start"]:
            raise ValueError("operation %r ends before it starts" % (op,))
        call, ret = _Entry(op, True, i), _Entry(op, False, i)
        call.match = ret
        # calls sort before returns at the same instant: touching
        # operations count as concurrent, the weaker (safe) reading
        events.append((op["start"], 0, i, call))
        events.append((end, 1, i, ret))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    head = _Entry(None, False, -1)
    prev = head
    for _, _, _, e in events:
        prev.next = e
        e.prev = prev
        prev = e
    return head


def _lift(e):
    e.prev.next = e.next
    if e.next:
        e.next.prev = e.prev
    m = e.match
    m.prev.next = m.next
    if m.next:
        m.next.prev = m.prev


def _unlift(e):
    m = e.match
    m.prev.next = m
    if m.next:
        m.next.prev = m
    e.prev.next = e
    if e.next:
        e.next.prev = e


def _step(state, op):
    if op["kind"] == "write":
        return True, op["value"]
    return op["value"] == state, state


def check(ops, initial=None, budget=5_000_000):
    """True if linearizable, False if not; raises RuntimeError past budget steps."""
    head = _build(ops)
    state = initial
    linearized = 0
    cache = set()
    stack = []
    entry = head.next
    steps = 0
    while head.next is not None:
        steps += 1
        if steps > budget:
            raise RuntimeError("linearizability search past %d steps" % budget)
        if entry is None:
            return False
        if entry.is_call:
            ok, new = _step(state, entry.op)
            if ok:
                lin = linearized | (1 << entry.id)
                key = (lin, new)
                if key not in cache:
                    cache.add(key)
                    stack.append((entry, state))
                    state = new
                    linearized = lin
                    _lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            # a return reached with its call not linearized: undo the last choice
            if not stack:
                return False
            entry, state = stack.pop()
            linearized &= ~(1 << entry.id)
            _unlift(entry)
            entry = entry.next
    return True


def self_test():
    """Histories with known answers: the checker must tell them apart."""
    w = lambda v, s, e: {"kind": "write", "value": v, "start": s, "end": e}
    r = lambda v, s, e: {"kind": "read", "value": v, "start": s, "end": e}
    cases = [
        ([w(1, 0, 1), r(1, 2, 3)], True),
        ([w(1, 0, 1), r(None, 2, 3)], False),  # an acknowledged write lost
        ([w(1, 0, 1), w(2, 2, 3), r(1, 4, 5)], False),  # a stale read
        ([w(1, 0, 10), r(1, 1, 2), r(None, 3, 4)], False),  # new then old
        ([w(1, 0, 10), r(None, 1, 2), r(1, 3, 4)], True),  # concurrent write
        ([w(1, 0, None), r(None, 1, 2), r(1, 3, 4)], True),  # unknown outcome, took effect
        ([w(1, 0, None), r(None, 5, 6)], True),  # unknown outcome, never took effect
        ([w(1, 0, 2), w(2, 1, 3), r(2, 4, 5), r(1, 6, 7)], False),
        ([w(1, 0, 2), w(2, 1, 3), r(1, 4, 5), r(1, 6, 7)], True),
    ]
    for ops, want in cases:
        got = check(ops)
        if got != want:
            raise AssertionError("checker says %s, expected %s for %r" % (got, want, ops))
    return len(cases)
