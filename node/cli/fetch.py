"""``vfnode fetch STUDY_UID --from AE@HOST:PORT``: pull a study from a PACS by C-MOVE.

The PACS sends the study to this node's AE title (``net.ae_title``; the PACS must know it
as a modality with this node's address and port), so the node must be running
(``vfnode serve``) to receive it; it is then analysed like any study sent to the node.
"""

from __future__ import annotations

import argparse
import logging

from node.config import Settings
from node.config.settings import parse_address
from node.errors import VfnodeError
from node.net import status
from node.net.move import MoveError, request_move
from node.net.tls import client_context

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fetch", help="pull a study from a PACS by C-MOVE into the running node",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study_uid", metavar="STUDY_UID", help="Study Instance UID")
    parser.add_argument("--from", dest="source", required=True, metavar="AE@HOST:PORT",
                        help="the PACS to move the study from")
    parser.add_argument("--series", metavar="SERIES_UID", help="move only this series")
    parser.add_argument("--to-ae", metavar="AE",
                        help="move destination AE title (default: net.ae_title)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for the PACS's answers (default 600)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        source = parse_address(args.source)
    except ValueError as exc:
        raise VfnodeError(str(exc)) from exc
    destination = args.to_ae or settings.net.ae_title
    try:
        result = request_move(source, args.study_uid, calling_ae=settings.net.ae_title,
                              destination_ae=destination, series_uid=args.series,
                              timeout_s=args.timeout, tls=client_context(settings.net))
    except MoveError as exc:
        raise VfnodeError(str(exc)) from exc
    print(f"C-MOVE of study {args.study_uid} from {source.ae_title} to {destination}: "
          f"{status.describe(result.status)}; completed {result.completed}, "
          f"failed {result.failed}, warning {result.warning}")
    return 0 if result.ok else 1
