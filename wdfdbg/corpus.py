"""``corpus``: add up a batch's records (``wdfdbg batch -o OUT.jsonl``).

    wdfdbg corpus OUT.jsonl [--json] [--by driver|signature|problem]

Text: the dumps by status and totals, then per driver (dumps, objects,
memory, problems by code, KMDF versions seen, the dumps with the most
objects and bytes), per signature and per problem code; ``--by`` shows
one of those tables. ``--json`` writes ``wdfdbg.corpus/1`` (all of it;
schema in ``wdfdbg/data/corpus.schema.json``, see docs/batch.md).
The file is streamed: a corpus of a million records is not loaded.
"""

import sys

from wdfdbg import command

NAME = "corpus"


def make_parser():
    p = command.parser(NAME, "summary across a batch's records: by status, driver, signature, problem")
    p.add_argument("records", metavar="OUT.jsonl", help="the JSONL file wdfdbg batch wrote")
    p.add_argument("--json", action="store_true", help="write wdfdbg.corpus/1")
    p.add_argument("--by", choices=["driver", "signature", "problem"], default=None, help="the one table to show")
    return p


def parse_args(argv):
    return make_parser().parse_args(argv)


def main(argv=None):
    def body(a):
        from wdfdbg.batch.aggregate import summarize
        args = parse_args(a)
        doc = summarize(args.records).to_json()
        if args.json:
            from wdfdbg.render.report import dumps
            command.emit(dumps(doc))
        else:
            from wdfdbg.batch.tables import render
            command.emit(render(doc, by=args.by))
        return command.EXIT_OK
    return command.run(body, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
