"""Child-process entry points, so a figure starts cold and its memory is its own.

python -m bench.worker drain EVENT_ID[,EVENT_ID...] [BATCH_SIZE]
python -m bench.worker lockstep EVENT_ID[,EVENT_ID...]   (then "go N" lines on stdin)
"""

import json
import os
import sys


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from bench.alloc import EngineSteps, drain_with_engine

    command, *args = argv
    event_ids = [int(x) for x in args[0].split(",")]
    if command == "drain":
        batch_size = int(args[1]) if len(args) > 1 else None
        print(json.dumps(drain_with_engine(event_ids=event_ids, batch_size=batch_size)))
    elif command == "lockstep":
        steps = EngineSteps(event_ids=event_ids)
        for line in sys.stdin:
            print(json.dumps(steps.run(batches=int(line.split()[1]))), flush=True)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
