import json
from pathlib import Path

from django.core.management.base import BaseCommand

from wangyin.ops import compliance


class Command(BaseCommand):
    help = ("Print every requirement with the tests that prove it and their last result, "
            "and write docs/compliance.md.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")
        parser.add_argument("--output", default="docs/compliance.md",
                            help="where to write the Markdown matrix (default %(default)s)")

    def handle(self, *args, **options):
        matrix = compliance.build()
        output = Path(options["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(compliance.render_markdown(matrix), encoding="utf-8")
        if options["json"]:
            self.stdout.write(json.dumps(matrix.as_json(), indent=1, ensure_ascii=False))
        else:
            self.stdout.write(compliance.render_text(matrix), ending="")
            self.stdout.write(f"wrote {output}")
