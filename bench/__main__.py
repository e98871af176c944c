"""make bench: EventTix's figures on PostgreSQL, printed as a table and written to bench/results.json.

DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventtix python -m bench [--runs 3] [--only alloc,...]
"""

import argparse
import os
import sys

from bench.database import bench_database_url


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repeats of each figure; the median is reported")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated, of: alloc,memory,position,availability,ingest,onsale,cluster,crowd,"
        "redisfault,door",
    )
    parser.add_argument("--requests", type=int, default=50_000, help="queue drained by the alloc figure")
    parser.add_argument("--position-queue", type=int, default=100_000)
    parser.add_argument(
        "--availability-queue", type=int, default=500_000, help="queued requests in the availability figure"
    )
    parser.add_argument("--memory-queue", type=int, default=100_000)
    parser.add_argument("--buyers", type=int, default=5_000, help="buyers in the on-sale figure")
    parser.add_argument(
        "--door-tickets", type=int, default=5_000, help="tickets checked in by the door figure"
    )
    parser.add_argument("--crowd", type=int, default=3_000, help="buyers in the crowd figure")
    parser.add_argument(
        "--crowd-window",
        type=float,
        default=40.0,
        help="seconds over which the crowd arrives, centred on the opening",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per HTTP run")
    parser.add_argument("--port", type=int, default=8500)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results.json"))
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument(
        "--merge", action="store_true", help="keep the figures of an earlier results.json that this run skips"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    url = bench_database_url(os.environ.get("DATABASE_URL", ""))
    # Every process the benchmark starts (drain workers, gunicorn, qcluster) reads these.
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    from bench.runner import run

    run(args, url)


if __name__ == "__main__":
    main()
