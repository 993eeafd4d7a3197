"""The report page: built from real tables and plots, then opened in headless Chromium (Debian's `chromium` and
`chromium-driver`, which `make test` installs), where every table and image must render with no console error."""

import shutil
from pathlib import Path

import pytest

from s3core.config.sections import GeneratorConfig, parse
from s3core.data.jsonl import write_jsonl
from s3core.reporting.page import CURVE, write_report
from s3core.reporting.paper_comparison import compare, write_comparison
from s3core.reporting.plots import plot_training_curve
from s3core.reporting.tables import write_tables
from s3core.reporting.training_cost import write_training_cost

GENERATORS: dict[str, GeneratorConfig] = parse(
    "generators", {"qwen2.5-7b-instruct": {"backend": "vllm", "model": "Qwen/Qwen2.5-7B-Instruct"}}
)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """A report of one generator: s3 and RAG-dense on two general sets and one medical set, and a training curve."""
    work = tmp_path_factory.mktemp("run")
    answers = []
    for method in ("rag_dense", "s3"):
        for dataset in ("nq", "hotpotqa", "medqa"):
            path = work / "answers" / method / f"{dataset}.jsonl"
            write_jsonl(
                path,
                [
                    {
                        "generator": "qwen2.5-7b-instruct",
                        "method": method,
                        "data_source": dataset,
                        "genacc": g,
                        "em": g,
                        "f1": g,
                    }
                    for g in (1, 0, 1)
                ],
            )
            answers.append(path)
    tables = work / "tables"
    frame = write_tables(answers, tables / "main.md", tables / "main.csv", tables / "main.tex")
    write_comparison(
        compare(frame, GENERATORS, "qwen2.5-7b-instruct", 2.0),
        tables / "paper.md",
        tables / "paper.csv",
        tables / "paper.tex",
        2.0,
    )
    curve, metrics = work / "curve.png", work / "metrics.jsonl"
    steps = [
        {
            "step": s,
            "reward": 0.1 * s,
            "gbr": 0.1 * s,
            "genacc": 0.5,
            "rag_genacc": 0.4,
            "rollout_s": 60.0,
            "update_s": 30.0,
            "gbr_below": 0.1,
            "gbr_zero": 0.8 - 0.1 * s,
            "gbr_above": 0.1 + 0.1 * s,
        }
        for s in (1, 2, 3)
    ]
    write_jsonl(metrics, steps)
    plot_training_curve(steps, curve)
    write_training_cost(metrics, None, tables / "training_cost.md", tables / "training_cost.csv")
    timed = work / "benchmarks" / "train_s3.tsv"
    timed.parent.mkdir()
    timed.write_text("s\th:m:s\n5400\t1:30:00\n")  # Snakemake's benchmark file, its first columns
    train = {"stage": "train", "jobs": 1, "loads": 1, "gpu_hours": 1.0, "requested_gpu_hours": 8}
    preview = {"target": "all", "servers": "per_job", "stages": [train], "total": {**train, "stage": "all"}}
    return write_report(
        work / "report",
        tables / "main.md",
        tables / "main.csv",
        tables / "paper.md",
        tables / "training_cost.md",
        curve,
        "s3-workflow results: test",
        "Numbers <made up> for a test.",
        {"preview": preview, "jobs": [{"stage": "train", "gpus": 2, "record": str(timed)}]},
    )


def test_the_page_holds_the_tables_the_figures_and_the_note(page):
    text = page.read_text()
    pngs = sorted(path.name for path in page.parent.glob("*.png"))
    assert pngs == ["genacc_qwen2.5-7b-instruct_general_wiki.png", "genacc_qwen2.5-7b-instruct_medical_wiki.png", CURVE]
    assert all(f'src="{name}"' in text for name in pngs)
    assert "Numbers &lt;made up&gt; for a test." in text  # escaped
    paper_tables = (page.parent.parent / "tables" / "paper.md").read_text().count("\n## ")
    assert text.count("<table>") == 4 + paper_tables and paper_tables == 11  # ours, costs (2), the paper's
    assert "<h2>Training cost (the paper's Table 4 beside ours)</h2>" in text
    assert "<h2>GPU-hours: used beside the preview</h2>" in text and ">3.00</td>" in text  # 1.5 h x 2 GPUs
    assert "<h3>Table 1: general QA, Qwen2.5-7B-Instruct</h3>" in text and "not run / 37.3" in text


def _browser():
    """Headless Chromium under Selenium (the flags keep it off this closed network)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "Debian's chromium and chromium-driver are missing: run `make test` (it installs them)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver))


def _render(browser, page: Path) -> tuple[int, list[str], list[str]]:
    """(tables shown, images that did not render, console errors) of `page`."""
    browser.get(page.as_uri())
    tables = browser.execute_script(
        "return [...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().height > 0).length"
    )
    broken = browser.execute_script(
        "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    return tables, broken, errors


def test_the_page_renders_in_headless_chromium_with_every_image_and_no_console_error(page, tmp_path):
    browser = _browser()
    try:
        tables, broken, errors = _render(browser, page)
        assert tables == page.read_text().count("<table>") and tables > 2
        assert broken == [] and errors == []
        # the same checks catch a figure that is missing
        damaged = shutil.copytree(page.parent, tmp_path / "report")
        (damaged / CURVE).unlink()
        tables, broken, errors = _render(browser, damaged / "index.html")
        assert [Path(src).name for src in broken] == [CURVE] and any(CURVE in error for error in errors)
    finally:
        browser.quit()
