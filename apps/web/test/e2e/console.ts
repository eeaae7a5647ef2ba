// Every console error and uncaught exception of a browser page, so a test fails on any of them (a React hydration
// error #418 or a favicon 404 shows only there).
import type { BrowserContext, Page } from "playwright-core";

export interface TConsoleWatch {
  /** What was seen since the last take(), emptied. */
  take(): string[];
  /** Drops what was seen so far that matches `pattern`: the failures a test provoked on purpose (a wrong password's 401). */
  expectSeen(pattern: RegExp): void;
}

export function watchConsole(context: BrowserContext): TConsoleWatch {
  const seen: string[] = [];
  const attach = (page: Page) => {
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      const where = message.location();
      seen.push(`console.error on ${page.url()}: ${message.text()}${where.url ? ` (${where.url}:${where.lineNumber})` : ""}`);
    });
    page.on("pageerror", (error) => seen.push(`pageerror on ${page.url()}: ${error.message}`));
    // A failed subresource (404 favicon) is logged as a console error without its URL: record which one it was.
    page.on("response", (response) => {
      if (response.status() >= 400 && response.request().resourceType() !== "fetch" && response.request().resourceType() !== "xhr") {
        seen.push(`HTTP ${response.status()} for ${response.url()} (${response.request().resourceType()}) on ${page.url()}`);
      }
    });
  };
  for (const page of context.pages()) attach(page);
  context.on("page", attach);
  return {
    take() {
      return seen.splice(0, seen.length);
    },
    expectSeen(pattern) {
      const kept = seen.filter((line) => !pattern.test(line));
      seen.splice(0, seen.length, ...kept);
    },
  };
}
