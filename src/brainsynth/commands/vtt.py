"""``brainsynth vtt``: the Visual Turing Test (paper §3.3) — create, invite, serve, results."""

from __future__ import annotations

import argparse

from brainsynth.paper import IMAGE_SETS

HELP = "Visual Turing Test: physicians classify real vs synthetic images in a web app"
DESCRIPTION = """\
Visual Turing Test (Han et al. 2018, section 3.3): a rater sees a random mix of real and
synthetic images one at a time and classifies each as Real or Synthetic; Table 1 of the paper
is the resulting confusion matrix and accuracy (50 % = indistinguishable).

  brainsynth vtt create  --db vtt.db --name "T1 (DCGAN, 128x128)" --real prepared \\
                         --sequence t1 --fake runs/dcgan-t1      # prints the study id
  brainsynth vtt invite  --db vtt.db --study ID --rater "Dr A"   # prints /r/<token>
  brainsynth vtt serve   --db vtt.db                             # prints the admin link
  brainsynth vtt results --db vtt.db --format table

Everything lives in one SQLite file (WAL); an answer is on disk before the next image shows.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="vtt_command", metavar="ACTION", required=True)
    fmt = argparse.ArgumentDefaultsHelpFormatter

    create = sub.add_parser(
        "create", help="draw real and synthetic images into a new study", formatter_class=fmt
    )
    create.add_argument("--db", required=True, help="study database (created when missing)")
    create.add_argument("--name", required=True, help='study name, e.g. "T1 (DCGAN, 128x128)"')
    create.add_argument("--real", required=True, help="prepared dataset folder (real images)")
    create.add_argument(
        "--sequence",
        required=True,
        choices=IMAGE_SETS,
        help="image set; concat draws real images equally from the four",
    )
    create.add_argument(
        "--fake",
        required=True,
        help="synthetic images: PNG folder, .npy, samples folder or training run",
    )
    create.add_argument("--n-real", type=int, default=50, help="number of real images")
    create.add_argument("--n-fake", type=int, default=50, help="number of synthetic images")
    create.add_argument("--seed", type=int, default=0, help="seed of the random draw")

    invite = sub.add_parser(
        "invite", help="add a rater; prints the rater's link path", formatter_class=fmt
    )
    invite.add_argument("--db", required=True, help="study database")
    invite.add_argument("--study", required=True, help="study id (from 'vtt create')")
    invite.add_argument("--rater", required=True, help="rater name, unique within the study")

    serve = sub.add_parser(
        "serve", help="run the web app (rater pages and admin results)", formatter_class=fmt
    )
    serve.add_argument("--db", required=True, help="study database")
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (localhost only by default)"
    )
    serve.add_argument("--port", type=int, default=8000, help="TCP port")
    serve.add_argument(
        "--admin-token",
        default=None,
        help="admin token (default: the one stored in the database, or a new one)",
    )

    results = sub.add_parser(
        "results", help="print Table 1, every answer (CSV) or JSON", formatter_class=fmt
    )
    results.add_argument("--db", required=True, help="study database")
    results.add_argument("--study", default=None, help="one study id (default: all studies)")
    results.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table: the paper's Table 1 columns; csv: every answer",
    )


def run(args: argparse.Namespace) -> int:
    action = {"create": _create, "invite": _invite, "serve": _serve, "results": _results}
    return action[args.vtt_command](args)


def _create(args: argparse.Namespace) -> int:
    from brainsynth.data.dataset import load_prepared
    from brainsynth.pipeline import load_fake_images
    from brainsynth.vtt.study import create_study

    real = load_prepared(args.real).image_set(args.sequence, as_float=False)
    # A generator is sampled for exactly the images needed; a file source is drawn from whole.
    fake, _ = load_fake_images(args.fake, n=args.n_fake, seed=args.seed)
    study_id = create_study(
        args.db,
        args.name,
        real,
        fake,
        n_real=args.n_real,
        n_fake=args.n_fake,
        seed=args.seed,
        sequence=args.sequence,
    )
    print(f"created study {args.name!r}: {args.n_real} real + {args.n_fake} synthetic images")
    print(study_id)
    return 0


def _invite(args: argparse.Namespace) -> int:
    from brainsynth.vtt.study import invite

    token = invite(args.db, args.study, args.rater)
    print(f"invited {args.rater!r} to study {args.study}; send them this link (keep it secret):")
    print(f"/r/{token}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import secrets

    import uvicorn

    from brainsynth.errors import BrainsynthError
    from brainsynth.vtt import db as vttdb
    from brainsynth.vtt.app import create_app

    with vttdb.opened(args.db) as conn:
        token = args.admin_token or vttdb.get_meta(conn, "admin_token")
        if token is None:
            token = secrets.token_urlsafe(32)
        if len(token) < 16:
            raise BrainsynthError("--admin-token: use at least 16 characters")
        vttdb.set_meta(conn, "admin_token", token)
    app = create_app(args.db, token)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"admin results: http://{host}:{args.port}/admin?token={token}", flush=True)
    print(f"rater links:   http://{host}:{args.port}/r/<token>  (from 'vtt invite')", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"note: listening on {args.host} without TLS; put it behind an HTTPS proxy before "
            "sending links outside this machine",
            flush=True,
        )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _results(args: argparse.Namespace) -> int:
    from brainsynth.vtt import export
    from brainsynth.vtt.scoring import list_studies, study_results

    ids = [args.study] if args.study else [s["id"] for s in list_studies(args.db)]
    if args.format == "csv":
        print(export.answers_csv(args.db, ids), end="")
        return 0
    results = [study_results(args.db, i) for i in ids]
    if args.format == "json":
        print(export.results_json(results, single=args.study is not None))
    elif results:
        print(export.format_table(results))
    else:
        print("no studies yet (create one with 'brainsynth vtt create')")
    return 0
