"""Writes infra/grafana/dashboards/vigia.json, the provisioned Grafana dashboard.

    python infra/grafana/build_dashboard.py

Edit the ROWS below (a panel is one line: title, PromQL, unit, kind) and run it again;
database gauges come from every web container alike, so panels take `max` across instances
before summing over labels;
tests/test_infra_monitoring.py checks the JSON is up to date and that every metric it names is
exported by /metrics.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards" / "vigia.json"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

# (row title, [(panel title, [(expr, legend)], unit, kind)])
ROWS = [
    (
        "Clip flow",
        [
            (
                "Clips received per minute",
                [("sum by (camera_group) (rate(vigia_clips_received_total[5m])) * 60", "{{camera_group}}")],
                "short",
                "timeseries",
            ),
            (
                "Clips processed per minute",
                [("sum by (alert) (rate(vigia_clips_processed_total[5m])) * 60", "alert={{alert}}")],
                "short",
                "timeseries",
            ),
            (
                "Clips failed per minute",
                [("sum by (camera_group) (rate(vigia_clips_failed_total[5m])) * 60", "{{camera_group}}")],
                "short",
                "timeseries",
            ),
            (
                "Failure rate",
                [
                    (
                        "sum(rate(vigia_clips_failed_total[15m])) / clamp_min(sum(rate(vigia_clips_processed_total[15m]))"
                        " + sum(rate(vigia_clips_failed_total[15m])), 1e-9)",
                        "failed share",
                    )
                ],
                "percentunit",
                "timeseries",
            ),
            (
                "Clip-bucket events per minute (consume_clip_events)",
                [
                    ("sum by (outcome) (rate(vigia_clip_events_total[5m])) * 60", "{{outcome}}"),
                    ("sum by (reason) (rate(vigia_clip_events_rejected_total[5m])) * 60", "rejected: {{reason}}"),
                ],
                "short",
                "timeseries",
            ),
            (
                "Backlog (queued / processing)",
                [("max by (status) (vigia_clips_backlog)", "{{status}}")],
                "short",
                "timeseries",
            ),
            ("Oldest queued clip", [("max(vigia_clips_oldest_queued_seconds)", "age")], "s", "stat"),
            (
                "Celery queue length",
                [("max by (queue) (vigia_celery_queue_length)", "{{queue}}")],
                "short",
                "timeseries",
            ),
            (
                "Clips in the last 24 h by status",
                [("sum by (status) (max by (camera_group, status) (vigia_clips_recent))", "{{status}}")],
                "short",
                "bargauge",
            ),
            (
                "Clips in the last 24 h by camera group",
                [("sum by (camera_group) (max by (camera_group, status) (vigia_clips_recent))", "{{camera_group}}")],
                "short",
                "bargauge",
            ),
        ],
    ),
    (
        "Processing time",
        [
            (
                "Decode time p50 / p95",
                [
                    ("histogram_quantile(0.5, sum by (le) (rate(vigia_clip_decode_seconds_bucket[5m])))", "p50"),
                    ("histogram_quantile(0.95, sum by (le) (rate(vigia_clip_decode_seconds_bucket[5m])))", "p95"),
                ],
                "s",
                "timeseries",
            ),
            (
                "Detect time p50 / p95",
                [
                    ("histogram_quantile(0.5, sum by (le) (rate(vigia_clip_detect_seconds_bucket[5m])))", "p50"),
                    ("histogram_quantile(0.95, sum by (le) (rate(vigia_clip_detect_seconds_bucket[5m])))", "p95"),
                ],
                "s",
                "timeseries",
            ),
            (
                "Clip processing p50 / p95",
                [
                    ("histogram_quantile(0.5, sum by (le) (rate(vigia_clip_processing_seconds_bucket[5m])))", "p50"),
                    ("histogram_quantile(0.95, sum by (le) (rate(vigia_clip_processing_seconds_bucket[5m])))", "p95"),
                ],
                "s",
                "timeseries",
            ),
            (
                "Browser copies (previews) per minute, and their p95",
                [
                    ("sum by (outcome) (rate(vigia_clip_previews_total[5m])) * 60", "{{outcome}}"),
                    ("histogram_quantile(0.95, sum by (le) (rate(vigia_clip_preview_seconds_bucket[5m])))", "p95 s"),
                ],
                "short",
                "timeseries",
            ),
            (
                "Mean detect time",
                [
                    (
                        "sum(rate(vigia_clip_detect_seconds_sum[5m])) / sum(rate(vigia_clip_detect_seconds_count[5m]))",
                        "mean",
                    )
                ],
                "s",
                "timeseries",
            ),
            (
                "Celery tasks per minute",
                [("sum by (task, outcome) (rate(vigia_celery_tasks_total[5m])) * 60", "{{task}} {{outcome}}")],
                "short",
                "timeseries",
            ),
            (
                "Celery task time p95",
                [
                    (
                        "histogram_quantile(0.95, sum by (le, task) (rate(vigia_celery_task_seconds_bucket[5m])))",
                        "{{task}}",
                    )
                ],
                "s",
                "timeseries",
            ),
        ],
    ),
    (
        "Alerts and customers",
        [
            (
                "Alerts sent per minute",
                [("sum by (camera_group) (rate(vigia_alerts_sent_total[5m])) * 60", "{{camera_group}}")],
                "short",
                "timeseries",
            ),
            (
                "Alert publish errors",
                [("sum by (retryable) (increase(vigia_alert_publish_errors_total[15m]))", "retryable={{retryable}}")],
                "short",
                "timeseries",
            ),
            (
                "Alerts not sent yet",
                [
                    ("max(vigia_alerts_pending)", "pending"),
                    ("max(vigia_alerts_failed)", "failed (send again in the admin)"),
                ],
                "short",
                "timeseries",
            ),
            (
                "Oldest alert not sent",
                [("max(vigia_alerts_oldest_pending_seconds)", "oldest pending")],
                "s",
                "timeseries",
            ),
            (
                "False-alert reports per hour",
                [("sum by (camera_group) (rate(vigia_false_alert_reports_total[1h])) * 3600", "{{camera_group}}")],
                "short",
                "timeseries",
            ),
            (
                "False-alert reports, last 24 h",
                [("max by (camera_group) (vigia_false_alert_reports_recent)", "{{camera_group}}")],
                "short",
                "bargauge",
            ),
        ],
    ),
    (
        "Review",
        [
            (
                "Review queue depth",
                [("max by (reason) (vigia_review_queue_depth)", "{{reason}}")],
                "short",
                "timeseries",
            ),
            (
                "Oldest open item",
                [("max by (reason) (vigia_review_queue_oldest_seconds)", "{{reason}}")],
                "s",
                "timeseries",
            ),
            ("Items held by a reviewer", [("max(vigia_review_queue_claimed)", "claimed")], "short", "stat"),
            (
                "Decisions per minute",
                [
                    (
                        "sum by (verdict, source) (rate(vigia_review_decisions_total[5m])) * 60",
                        "{{verdict}} ({{source}})",
                    )
                ],
                "short",
                "timeseries",
            ),
            (
                "Decisions per reviewer, last 24 h",
                [("sum by (reviewer) (max by (reviewer, verdict) (vigia_reviewer_decisions_recent))", "{{reviewer}}")],
                "short",
                "bargauge",
            ),
        ],
    ),
    (
        "Model",
        [
            (
                "Cameras drifting",
                [("max by (camera_group) (vigia_cameras_drifting)", "{{camera_group}}")],
                "short",
                "timeseries",
            ),
            ("Drift check age", [("max(vigia_drift_check_age_seconds)", "age")], "s", "stat"),
        ],
    ),
    (
        "Suppression rules and training sets",
        [
            (
                "Suppression rules by state",
                [("max by (state) (vigia_suppression_rules)", "{{state}}")],
                "short",
                "timeseries",
            ),
            (
                "Rule hits by camera group",
                [("max by (camera_group) (vigia_suppression_rule_hits)", "{{camera_group}}")],
                "short",
                "timeseries",
            ),
            (
                "Clips with suppressed detections, last 24 h",
                [("sum by (kind) (max by (camera_group, kind) (vigia_clips_suppressed_recent))", "{{kind}}")],
                "short",
                "bargauge",
            ),
            ("Export runs by status", [("max by (status) (vigia_export_runs)", "{{status}}")], "short", "timeseries"),
            ("Last completed export", [("max(vigia_export_last_done_age_seconds)", "age")], "s", "stat"),
        ],
    ),
    (
        "Retention",
        [
            (
                "Clips pruned per hour",
                [("sum(increase(vigia_clips_pruned_total[1h]))", "clips")],
                "short",
                "timeseries",
            ),
            (
                "Objects of pruned clips per hour",
                [("sum by (outcome) (increase(vigia_clip_objects_pruned_total[1h]))", "{{outcome}}")],
                "short",
                "timeseries",
            ),
            ("Since the last prune run", [("max(vigia_clips_prune_last_run_seconds)", "age")], "s", "stat"),
        ],
    ),
    (
        "Labels out (Label Studio, DynamoDB)",
        [
            (
                "Sync rows by status",
                [("max by (destination, status) (vigia_sync_rows)", "{{destination}} {{status}}")],
                "short",
                "timeseries",
            ),
            (
                "Rows whose last attempt failed",
                [("max by (destination) (vigia_sync_erroring_rows)", "{{destination}}")],
                "short",
                "timeseries",
            ),
            ("Sync lag", [("max by (destination) (vigia_sync_lag_seconds)", "{{destination}}")], "s", "timeseries"),
        ],
    ),
    (
        "Monitoring health",
        [
            ("Scrape targets up", [('up{job=~"vigia-.*"}', "{{job}} {{instance}}")], "short", "timeseries"),
            ("Collectors up", [("vigia_metrics_collector_up", "{{collector}}")], "short", "timeseries"),
            ("Collector time", [("vigia_metrics_collector_seconds", "{{collector}}")], "s", "timeseries"),
        ],
    ),
]


def panel(panel_id: int, title: str, targets, unit: str, kind: str, x: int, y: int) -> dict:
    return {
        "id": panel_id,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 7, "w": 8, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
        if kind == "timeseries"
        else {},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def build() -> dict:
    panels, y, next_id = [], 0, 1
    for row_title, row_panels in ROWS:
        panels.append(
            {
                "id": next_id,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id += 1
        y += 1
        for i, (title, targets, unit, kind) in enumerate(row_panels):
            panels.append(panel(next_id, title, targets, unit, kind, x=8 * (i % 3), y=y + 7 * (i // 3)))
            next_id += 1
        y += 7 * ((len(row_panels) + 2) // 3)
    return {
        "uid": "vigia-overview",
        "title": "Vigia",
        "tags": ["vigia"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=1) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
