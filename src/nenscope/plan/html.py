"""The plan as a self-contained HTML page (own Jinja2 template, ``templates/plan.html.j2``)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from nenscope.atomic import write_text_atomic
from nenscope.plan.planner import Plan


def render_html(plan: Plan) -> str:
    """The plan page: status, checklist with sources, regimen, predicted doses, kidneys."""
    env = Environment(
        loader=PackageLoader("nenscope.plan", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("plan.html.j2").render(plan=plan, doc=plan.to_dict())


def write_plan(plan: Plan, out_dir: str | Path) -> dict[str, Path]:
    """Write ``plan.json`` and ``plan.html`` into ``out_dir``; return their paths."""
    import json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "plan.json", "html": out / "plan.html"}
    write_text_atomic(paths["json"], json.dumps(plan.to_dict(), indent=2, allow_nan=False))
    write_text_atomic(paths["html"], render_html(plan))
    return paths
