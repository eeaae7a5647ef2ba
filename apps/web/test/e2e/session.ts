// What every seeded browser test does around its steps: a signed-in admin page that watches the console, screenshots
// at 1280 and 390 px, and after each test a failure screenshot plus the stack's logs, then no console errors allowed.
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { expect } from "vitest";
import { watchConsole, type TConsoleWatch } from "./console";
import { SCREENSHOTS, type TStack } from "./stack";

export interface TSession {
  context: BrowserContext;
  page: Page;
  consoleWatch: TConsoleWatch;
}

/** The page at 1280 px, then (unless `phone` is false) at 390 px as `<name>-phone.png`. */
export async function shot(p: Page, name: string, phone = true): Promise<void> {
  await p.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  if (!phone) return;
  const size = p.viewportSize();
  await p.setViewportSize({ width: 390, height: 844 });
  await p.waitForTimeout(400);
  await p.screenshot({ path: path.join(SCREENSHOTS, `${name}-phone.png`), fullPage: true });
  if (size) await p.setViewportSize(size);
}

export async function signInAsAdmin(stack: TStack): Promise<TSession> {
  const context = await stack.browser.newContext({ viewport: { width: 1280, height: 860 } });
  const consoleWatch = watchConsole(context);
  const page = await context.newPage();
  await page.goto(`${stack.baseUrl}/login`);
  await page.getByLabel("Email").fill(stack.admin.email);
  await page.getByLabel("Password").fill(stack.admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/pipelines$/, { timeout: 30_000 });
  return { context, page, consoleWatch };
}

/** For afterEach: on a failed test a screenshot `<label>-failure.png` and the stack's logs; then no console errors. */
export async function checkAfterTest(ctx: { task: { result?: { state?: string } } }, stack: TStack | undefined, session: TSession | undefined, label: string): Promise<void> {
  const errors = session?.consoleWatch.take() ?? [];
  if (ctx.task.result?.state === "fail") {
    await session?.page.screenshot({ path: path.join(SCREENSHOTS, `${label}-failure.png`), fullPage: true }).catch(() => {});
    if (stack) console.error(stack.logs());
  }
  expect(errors).toEqual([]);
}
