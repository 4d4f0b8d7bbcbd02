"""`account-health` command line: generate demo data, run the pipeline, look up an account,
list model versions or move the champion."""

from __future__ import annotations

import argparse
import json
import time
import warnings
from datetime import date
from pathlib import Path

from account_health.demo_data import DemoConfig, default_end_date, generate_to_dir


def _demo(args: argparse.Namespace) -> None:
    config = DemoConfig(accounts=args.accounts, months=args.months, seed=args.seed,
                        end_date=args.end_date or default_end_date(),
                        dirty_fraction=args.dirty_fraction)
    started = time.perf_counter()
    if args.chunk_accounts:
        from account_health.demo_stream import generate_streamed

        counts = generate_streamed(Path(args.out), config, chunk_accounts=args.chunk_accounts,
                                   event_grain_fraction=args.event_grain_fraction)
    else:
        counts = generate_to_dir(Path(args.out), config)
    elapsed = time.perf_counter() - started
    print(f"wrote {args.out} in {elapsed:.1f}s: "
          + ", ".join(f"{name} {rows:,}" for name, rows in counts.items()))


def _run(_: argparse.Namespace) -> None:
    from account_health.run import main as run_main

    run_main()


def _account(args: argparse.Namespace) -> None:
    warnings.simplefilter("ignore")  # library notices would bury the answer
    from dagster import Failure

    from pipelines.definitions import build_resources
    from pipelines.online_scoring import score_online

    resources = build_resources()
    try:
        scores = score_online(resources["settings"], resources["feast"],
                              resources["mlflow_tracking"], args.account_ids)
    except (Failure, KeyError) as exc:
        raise SystemExit(str(exc.description if isinstance(exc, Failure)
                             else exc.args[0])) from None
    if args.json:
        print(scores.to_json(orient="records", date_format="iso", indent=2))
        return
    for row in scores.itertuples(index=False):
        print(f"{row.account_id} on {row.as_of}: health {row.health_score:.0f} ({row.band}), "
              f"churn risk {row.churn_probability:.0%} within the horizon, "
              f"median {row.median_days_to_churn:.0f} days to churn, "
              f"${row.arr_at_risk:,.0f} ARR at risk")
        for reason in json.loads(row.reasons) if isinstance(row.reasons, str) else []:
            print(f"  - {reason['sentence']}")
        print(f"  -> {row.recommended_action} ({row.action_owner}, "
              f"within {row.action_sla_hours} h)")


def _check_data(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from account_health.data_check import check_data, format_check
    from pipelines.environment import read_environment
    from pipelines.resources import settings_from

    environment = read_environment()
    paths = replace(environment.paths, data_dir=Path(args.data_dir).resolve(), demo=False)
    check = check_data(settings_from(replace(environment, paths=paths)))
    print(format_check(check))
    if not check.ok:
        raise SystemExit(1)


def _messaging_demo(args: argparse.Namespace) -> None:
    from account_health.messaging_demo import MessagingDemoConfig
    from account_health.messaging_demo import generate_to_dir as write_messaging

    config = MessagingDemoConfig(accounts=args.accounts, months=args.months, seed=args.seed,
                                 end_date=args.end_date or default_end_date())
    counts = write_messaging(Path(args.out), config)
    print(f"wrote {args.out}: " + ", ".join(f"{name} {rows:,}" for name, rows in counts.items()))


def _weights(args: argparse.Namespace) -> None:
    import pandas as pd
    import yaml

    from models.scoring.component_weights import with_weights
    from pipelines.environment import read_environment
    from pipelines.resources import settings_from
    from pipelines.storage import AssetStorage

    settings = settings_from(read_environment())
    path = AssetStorage.under(settings.output_dir).asset_file("component_weights")
    if not path.exists():
        raise SystemExit("no learned weights yet: run `make run` (or the train_churn_models "
                         "job) first")
    table = pd.read_parquet(path)
    first = table.iloc[0]
    print(table[["component", "current_weight", "learned_weight"]].to_markdown(index=False))
    print(f"walk-forward ROC AUC of the composite: {first['walk_forward_auc_learned']:.3f} "
          f"learned against {first['walk_forward_auc_current']:.3f} configured; "
          f"{first['accounts_changing_band']:,} of {first['accounts']:,} accounts on the "
          "latest training date would change band")
    target = settings.scoring_config_path()
    if not args.apply:
        print(f"to use them: account-health weights --apply (writes {target})")
        return
    config = yaml.safe_load(target.read_text()) if target.exists() else {}
    learned = dict(zip(table["component"], table["learned_weight"], strict=True))
    updated = with_weights(config, learned, settings.scoring_config().components)
    target.write_text(yaml.safe_dump(updated, sort_keys=False))
    print(f"wrote the learned weights into {target}; the next run scores with them")


def _champion(args: argparse.Namespace) -> None:
    warnings.simplefilter("ignore")
    from models.tracking import model_versions, set_champion
    from pipelines.definitions import build_resources

    tracking = build_resources()["mlflow_tracking"]
    tracking.activate()
    if args.version:
        try:
            previous = set_champion(args.version, reason=args.reason)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        print(f"champion: v{previous} -> v{args.version} ({tracking.tracking_uri}). Scoring "
              "uses it from the next run; re-materialise today's account_scores to re-score now.")
        return
    versions = model_versions()
    if versions.empty:
        raise SystemExit(f"no registered model at {tracking.tracking_uri}: train one first "
                         "(make run, or job train_churn_models)")
    print(versions.to_markdown(index=False, floatfmt=".3f"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="account-health", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="write seeded demo exports (docs/data-contract.md)")
    demo.add_argument("--accounts", type=int, default=2000)
    demo.add_argument("--months", type=int, default=18)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--end-date", type=date.fromisoformat, default=None,
                      help="last day with data (default: yesterday, UTC)")
    demo.add_argument("--dirty-fraction", type=float, default=0.0005,
                      help="share of malformed event rows to plant (0 for a clean export)")
    demo.add_argument("--out", default="output/demo_data")
    demo.add_argument("--chunk-accounts", type=int, default=0,
                      help="generate this many accounts at a time with bounded memory, "
                           "events as day files (for 10^5 accounts and more)")
    demo.add_argument("--event-grain-fraction", type=float, default=1.0,
                      help="with --chunk-accounts: share of accounts exported event by event; "
                           "the others as daily per-user aggregates with event_count")
    demo.set_defaults(handler=_demo)

    messaging = commands.add_parser(
        "messaging-demo", help="write the second demo: a team-messaging product's export "
                               "(own event names, acquisition channels as segments, "
                               "quarterly/semiannual billing, a year of history)")
    messaging.add_argument("--accounts", type=int, default=800)
    messaging.add_argument("--months", type=int, default=12)
    messaging.add_argument("--seed", type=int, default=11)
    messaging.add_argument("--end-date", type=date.fromisoformat, default=None,
                           help="last day with data (default: yesterday, UTC)")
    messaging.add_argument("--out", default="output/messaging_demo")
    messaging.set_defaults(handler=_messaging_demo)

    check = commands.add_parser(
        "check-data", help="what the pipeline will make of an export, before it runs; "
                           "exits non-zero on anything that would stop the run")
    check.add_argument("data_dir", metavar="DIR")
    check.set_defaults(handler=_check_data)

    run = commands.add_parser("run", help="run the pipeline as `make run` does")
    run.set_defaults(handler=_run)

    account = commands.add_parser(
        "account", help="score accounts now from the online store (latest materialised day)")
    account.add_argument("account_ids", nargs="+", metavar="ACCOUNT_ID")
    account.add_argument("--json", action="store_true", help="print the score rows as JSON")
    account.set_defaults(handler=_account)

    weights = commands.add_parser(
        "weights", help="the component weights learned from the data beside the configured "
                        "ones; --apply writes them into the scoring YAML")
    weights.add_argument("--apply", action="store_true",
                         help="write the learned weights into the scoring YAML")
    weights.set_defaults(handler=_weights)

    champion = commands.add_parser(
        "champion", help="list registered model versions, or move the champion alias "
                         "(roll back) with --set VERSION --reason TEXT")
    champion.add_argument("--set", dest="version", metavar="VERSION",
                          help="make this registered version the champion")
    champion.add_argument("--reason", default="", help="why (kept as a tag on the version)")
    champion.set_defaults(handler=_champion)

    args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
