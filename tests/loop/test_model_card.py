"""The model card: facts from the registry, plots embedded, readable in a real browser."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from rpaml_models import ModelRegistry
from rpaml_models.model_card import PLOTS, write_card
from rpaml_pipeline.model_training import TrainingOutcome

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def card(
    tmp_path_factory: pytest.TempPathFactory, trained_registry: tuple[Path, TrainingOutcome]
) -> tuple[Path, dict[str, object]]:
    registry_dir, outcome = trained_registry
    folder = tmp_path_factory.mktemp("cards")
    page, data = write_card(ModelRegistry(registry_dir), "claims_fraud", outcome.version, folder)
    return page, json.loads(data.read_text(encoding="utf-8"))


def test_the_card_holds_the_decision_data_candidates_and_limits(card) -> None:
    page, facts = card
    assert facts["champion"] is True
    decision = facts["decision"]
    assert decision["actions"] == ["approve", "escalate", "reject"]
    assert decision["costs"]["escalate"]["fraud"]["fixed"] == 150
    data = facts["training_data"]
    assert data["label_source"] == "portal:closed-claims-export"
    assert data["process_hash"].startswith("sha256:")
    assert data["training_data_hash"].startswith("sha256:")
    assert data["captured_from"] <= data["captured_to"]
    assert "sklearn" in data["library_versions"]
    selection = facts["selection"]
    assert len(selection["candidates"]) >= 2
    assert selection["winner"]["name"] in {c["name"] for c in selection["candidates"]}
    assert "lowest out-of-fold expected cost" in selection["why"]
    assert {"policy", "always approve", "always escalate", "best single threshold"} <= set(
        facts["cost_per_record"]
    )
    assert facts["permutation_importance"] and facts["limits"]
    text = page.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == len(PLOTS)
    assert "What it decides, at which costs" in text and "Limits" in text


@pytest.mark.browser
@pytest.mark.skipif(not CHROMEDRIVER.exists(), reason="Debian's chromium-driver is missing")
def test_the_card_renders_in_headless_chromium(card, tmp_path: Path) -> None:
    page, _ = card
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="rpaml-card-chromium-", dir=tmp_path)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,2400",
                 f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.get(page.as_uri())
        assert driver.title.startswith("Model card: claims_fraud v")
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt]);"
        )
        assert len(images) == len(PLOTS)
        assert all(done and width > 100 for done, width, _ in images), images
        screenshot = tmp_path / "card.png"
        assert driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 20_000
    finally:
        driver.quit()
