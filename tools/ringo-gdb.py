# gdb commands for ringo programs.
#
#   (gdb) source tools/ringo-gdb.py
#   (gdb) ringo-tasks          every task of every loop: id, name, state, wait
#   (gdb) ringo-tasks bt       ... and a backtrace of each suspended task
#
# Tasks are found through ringo__all_loops (every loop in the process) and
# each loop's scheduler. A suspended task's registers live on its own stack,
# where the context switch saved them (runtime/arch/x86_64/switch.S): the
# backtrace temporarily loads them into frame 0 of the stopped thread, runs
# "bt", and puts the thread's own registers back. x86-64, live process.

import gdb

STATES = {0: "pending", 1: "running", 2: "suspended", 3: "ready", 4: "done"}


def _offset(type_name, field):
    t = gdb.lookup_type(type_name)
    for f in t.fields():
        if f.name == field:
            return f.bitpos // 8
    raise gdb.GdbError("no field %s in %s" % (field, type_name))


def _walk(head, container, member):
    """Yield container pointers of an intrusive struct ringo__list."""
    off = _offset(container, member)
    ctype = gdb.lookup_type(container).pointer()
    node = head["next"]
    while int(node) != int(head.address):
        yield gdb.Value(int(node) - off).cast(ctype)
        node = node["next"]


def _loops():
    head = gdb.parse_and_eval("ringo__all_loops")
    return list(_walk(head, "struct ringo_loop", "all_link"))


def _tasks(loop):
    sched = loop["tasks"]
    if int(sched) == 0:
        return []
    sched = sched.cast(gdb.lookup_type("struct ringo__sched").pointer())
    return list(_walk(sched["live"], "struct ringo_task", "link"))


def _name(task):
    name = task["name"].string()
    return name if name else "task-%d" % int(task["id"])


REGS = ["rsp", "rbp", "rip", "rbx", "r12", "r13", "r14", "r15"]


def _backtrace(task):
    sp = int(task["fiber"]["sp"])
    u64 = gdb.lookup_type("unsigned long").pointer()

    def word(i):
        return int(gdb.Value(sp + 8 * i).cast(u64).dereference())

    # switch.S pushes rbp, rbx, r12-r15, then 8 bytes of FP control words;
    # the return address sits above them.
    saved = {"r15": word(1), "r14": word(2), "r13": word(3), "r12": word(4),
             "rbx": word(5), "rbp": word(6), "rip": word(7), "rsp": sp + 64}
    gdb.execute("frame 0", to_string=True)
    keep = {r: int(gdb.parse_and_eval("$" + r)) for r in REGS}
    try:
        for r in REGS:
            gdb.execute("set $%s = %d" % (r, saved[r]))
        gdb.execute("bt")
    finally:
        for r in REGS:
            gdb.execute("set $%s = %d" % (r, keep[r]))


class RingoTasks(gdb.Command):
    """List ringo tasks: ringo-tasks [bt]"""

    def __init__(self):
        super().__init__("ringo-tasks", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        want_bt = arg.strip() == "bt"
        loops = _loops()
        print("ringo: %d loop(s)" % len(loops))
        for loop in loops:
            tasks = _tasks(loop)
            print("loop %s: %d live task(s)" % (str(loop), len(tasks)))
            for t in tasks:
                state = STATES.get(int(t["state"]), "?")
                wait = t["wait"]
                what = ""
                if int(wait) != 0:
                    what = ", in " + wait["what"].string()
                print("  #%d '%s' %s%s" % (int(t["id"]), _name(t), state, what))
                if want_bt and state in ("suspended", "ready") and int(t["started"]):
                    _backtrace(t)


RingoTasks()
