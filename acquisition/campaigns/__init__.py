"""Scripted measurement campaigns: files or Python, validated up front, resumable, indexed.

    from acquisition.campaigns import load_campaign, CampaignRunner
    campaign = load_campaign("examples/film_71_spots.toml", experiment_names=..., schema_check=...)
    CampaignRunner(campaign, engine, Path("campaigns/film")).run(resume=False)

See acquisition/campaigns/spec.py for the file format.
"""
from acquisition.campaigns.spec import Campaign, CampaignError, Step, Unit, expand, load_campaign, parse_campaign

__all__ = ["Campaign", "CampaignError", "Step", "Unit", "expand", "load_campaign", "parse_campaign"]
