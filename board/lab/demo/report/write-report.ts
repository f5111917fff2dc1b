// Writes the demo report: the HTML page at the path asked for and the same figures as JSON beside it.

import { writeFileSync } from "node:fs";
import type { DemoReport } from "../timeline.ts";
import { renderReportHtml } from "./report-html.ts";

/** `report.html` → `report.json` (any other name gets `.json` appended). */
export function jsonPathFor(htmlPath: string): string {
  return /\.html?$/i.test(htmlPath) ? htmlPath.replace(/\.html?$/i, ".json") : `${htmlPath}.json`;
}

export function writeReportFiles(report: DemoReport, htmlPath: string): { html: string; json: string } {
  const json = jsonPathFor(htmlPath);
  writeFileSync(htmlPath, renderReportHtml(report));
  writeFileSync(json, `${JSON.stringify(report, null, 1)}\n`);
  return { html: htmlPath, json };
}
