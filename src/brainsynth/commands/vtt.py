"""``brainsynth vtt``: the Visual Turing Test (paper §3.3) — create, invite, serve, results."""

from __future__ import annotations

import argparse

from brainsynth.data.dataset import JOINT
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

A real image shown in one study is not drawn again by another study of the same database
(a physician rating several studies would recognise it); 'create' says when too few unused
real images are left (--allow-repeats draws them anyway). Real images are never upsampled to
a larger synthetic size without --allow-upsample.
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
        choices=(*IMAGE_SETS, JOINT),
        help="image set; concat draws real images equally from the four; joint (with "
        "--panel): four-sequence slices",
    )
    create.add_argument(
        "--panel",
        action="store_true",
        help="show every image, real or synthetic, as a 2x2 panel of the four sequences of "
        "one slice (T1 | T1c over T2 | FLAIR): for joint samples (--sequence joint)",
    )
    create.add_argument(
        "--fake",
        required=True,
        help="synthetic images: PNG folder, .npy, samples folder, training run or export "
        "(brainsynth export)",
    )
    create.add_argument("--n-real", type=int, default=50, help="number of real images")
    create.add_argument("--n-fake", type=int, default=50, help="number of synthetic images")
    create.add_argument("--seed", type=int, default=0, help="seed of the random draw")
    create.add_argument(
        "--allow-repeats",
        action="store_true",
        help="draw real images other studies of this database already showed, when too few "
        "unused ones are left (raters of both studies could recognise them)",
    )
    create.add_argument(
        "--allow-upsample",
        action="store_true",
        help="resample real images UP to a larger synthetic size (blurred real images may "
        "give themselves away)",
    )

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
    import dataclasses

    import numpy as np

    from brainsynth.config import check_image_size
    from brainsynth.data.dataset import load_prepared
    from brainsynth.errors import BrainsynthError
    from brainsynth.imageio import as_tiles
    from brainsynth.pipeline import load_fake_images
    from brainsynth.vtt import db as vttdb
    from brainsynth.vtt.study import check_name, create_study, real_image_ids

    if args.panel != (args.sequence == JOINT):
        raise BrainsynthError("--panel goes with --sequence joint (four-sequence samples)")
    check_name(args.name, "--name")
    vttdb.check_writable(args.db)
    dataset = load_prepared(args.real)
    real = dataset.image_set(args.sequence, as_float=False)
    # A generator is sampled for exactly the images needed; a file source is drawn from whole.
    fake, _ = load_fake_images(args.fake, n=args.n_fake, seed=args.seed)
    if args.panel:
        if fake.ndim != 4 or fake.shape[1] != 4:
            raise BrainsynthError(f"--panel: expected joint samples (N, 4, H, W), got {fake.shape}")
        check_image_size(int(fake.shape[-1]), "--fake: image side")
        fake = as_tiles(fake).astype(np.float32) / 255.0
        real = dataclasses.replace(real, images=as_tiles(real.images))
    study_id = create_study(
        args.db,
        args.name,
        real,
        fake,
        n_real=args.n_real,
        n_fake=args.n_fake,
        seed=args.seed,
        sequence=args.sequence,
        real_ids=real_image_ids(dataset, real),
        allow_repeats=args.allow_repeats,
        allow_upsample=args.allow_upsample,
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


def bind(host: str, port: int):
    """A listening socket on ``host:port``, or a one-line error when it is taken."""
    import socket

    from brainsynth.errors import BrainsynthError

    if not 0 < port < 65536:
        raise BrainsynthError(f"--port {port}: choose a port from 1 to 65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise BrainsynthError(f"--host {host}: unknown address ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise BrainsynthError(
            f"--port {port}: cannot listen on {host} ({exc.strerror}); is another server "
            "running? choose another --port"
        ) from None
    return sock


def _serve(args: argparse.Namespace) -> int:
    import secrets

    import uvicorn

    from brainsynth.errors import BrainsynthError
    from brainsynth.vtt import db as vttdb
    from brainsynth.vtt.app import create_app

    if args.admin_token is not None and len(args.admin_token) < 16:
        raise BrainsynthError("--admin-token: use at least 16 characters")
    vttdb.check_writable(args.db)
    with vttdb.opened(args.db) as conn:
        stored = vttdb.get_meta(conn, "admin_token")
    # The port first: nothing is stored or printed for a server that cannot start.
    sock = bind(args.host, args.port)
    token = args.admin_token or stored or secrets.token_urlsafe(32)
    if token != stored:
        with vttdb.opened(args.db) as conn:
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
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
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
