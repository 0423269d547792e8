// End-to-end: cm's browser page in headless Chromium against cm-mock.
//
// Serves bins/cm-wasm/ (www/ + pkg/) from a static server on 127.0.0.1, starts cm-mock
// with a script, and runs a whole conversation through the page: a CORS failure named
// with its fix, a file added (and a too-large one refused), a streamed answer, tool calls
// reading and editing the virtual file after a permission answer, an abort, a provider
// error mid-stream with the session going on (and a webfetch through the browser's
// fetch), a reload of the saved session, and a full storage quota. Asserts on the DOM and the edited file; saves a screenshot.
//
// Environment: CM_MOCK (the cm-mock binary, required), CHROMIUM (default
// /usr/bin/chromium), E2E_TMP (a directory for the profile and screenshot).
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const tmp = process.env.E2E_TMP || fs.mkdtempSync(path.join(os.tmpdir(), "cm-wasm-e2e-"));
const TIMEOUT = 20_000;

let passed = 0;
function check(name, condition, detail = "") {
  if (!condition) throw new Error(`${name} failed${detail ? `: ${detail}` : ""}`);
  passed += 1;
  console.log(`ok ${passed} - ${name}`);
}

// The static server: GET only, so a POST to it fails CORS like a provider without it.
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".wasm": "application/wasm",
  ".json": "application/json",
};
function serveStatic() {
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET" });
      return res.end();
    }
    let rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (rel.endsWith("/")) rel += "index.html";
    const file = path.join(root, path.normalize(rel));
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(403);
      return res.end();
    }
    fs.readFile(file, (error, data) => {
      if (error) {
        res.writeHead(404);
        return res.end();
      }
      res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" });
      res.end(data);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function sse(events) {
  return events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");
}

function writeScript(pageOrigin) {
  const browserHeader = { name: "anthropic-dangerous-direct-browser-access", value: "true" };
  const brokenStream = sse([
    { type: "message_start", message: { id: "msg_err", model: "claude-mock-1", usage: { input_tokens: 5, output_tokens: 1 } } },
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Partial answer, then" } },
    { type: "error", error: { type: "invalid_request_error", message: "mock failure mid-stream" } },
  ]);
  fs.writeFileSync(path.join(tmp, "error-mid-stream.sse"), brokenStream);
  const story = "Once upon a time " + "there was a very long story that went on and on. ".repeat(60);
  const script = [
    {
      expect: [{ header: browserHeader }, { header: { name: "x-api-key", value: "sk-ant-e2e" } }],
      text: "Let me **read** `notes.txt` first.",
      tool_calls: [{ name: "read", arguments: { path: "notes.txt" } }],
    },
    {
      expect: { tool_result_contains: "brwon" },
      tool_calls: [{ name: "edit", arguments: { path: "notes.txt", old_string: "brwon", new_string: "brown" } }],
    },
    {
      expect: { tool_result_contains: "Edited" },
      text: "Fixed the typo:\n\n- `brwon` → **brown**\n",
    },
    { text: story, fault: { trickle: { bytes: 24, interval_ms: 60 } } },
    { replay: "error-mid-stream.sse" },
    {
      tool_calls: [{ name: "webfetch", arguments: { url: `${pageOrigin}/www/index.html`, format: "text" } }],
    },
    {
      expect: { tool_result_contains: "Your key stays in this browser" },
      text: "Still here, and the session goes on.",
    },
  ];
  const file = path.join(tmp, "script.json");
  fs.writeFileSync(file, JSON.stringify(script, null, 2));
  return { file, story };
}

function startMock(scriptFile) {
  const mockBin = process.env.CM_MOCK;
  if (!mockBin) throw new Error("set CM_MOCK to the cm-mock binary");
  const child = spawn(mockBin, ["--script", scriptFile, "--port", "0", "--log", path.join(tmp, "requests.jsonl")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once("line", (line) => {
      const url = line.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (!url) return reject(new Error(`cm-mock said: ${line}`));
      resolve({ child, url: url[0] });
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`cm-mock exited with ${code}`)));
  });
}

async function main() {
  const server = await serveStatic();
  const pageOrigin = `http://127.0.0.1:${server.address().port}`;
  const { file: scriptFile, story } = writeScript(pageOrigin);
  const mock = await startMock(scriptFile);
  // Another origin that knows nothing of CORS, as most APIs do.
  const noCors = await serveStatic();
  const noCorsOrigin = `http://127.0.0.1:${noCors.address().port}`;
  const context = await chromium.launchPersistentContext(path.join(tmp, "profile"), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
  });
  const cleanup = async () => {
    await context.close().catch(() => {});
    server.close();
    noCors.close();
    mock.child.kill();
  };
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(TIMEOUT);
    const pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error" && process.env.E2E_VERBOSE) console.error(`page console: ${message.text()}`);
    });
    await page.goto(`${pageOrigin}/www/`);
    await page.waitForSelector("body[data-ready=true]");
    check("the page loads the package", (await page.textContent("#status")) === "not started");
    check(
      "the page says the key stays in this browser",
      (await page.textContent("#settings .note")).includes("Your key stays in this browser"),
    );

    const lastText = (selector) =>
      page.$$eval(selector, (nodes) => (nodes.length ? nodes[nodes.length - 1].textContent : ""));

    // 1. A base URL without CORS: the page names the cause and the fix.
    await page.selectOption("#provider", "anthropic");
    await page.fill("#base-url", noCorsOrigin);
    await page.fill("#api-key", "sk-ant-e2e");
    await page.fill("#model", "claude-mock-1");
    await page.click("#connect");
    await page.fill("#prompt", "hello?");
    await page.click("#send");
    await page.waitForSelector(".message.notice:has-text('CORS'), .message.error:has-text('CORS')");
    const cors = await lastText(".message.notice, .message.error");
    check(
      "a CORS failure is named with its fix",
      cors.includes("Access-Control-Allow-Origin") && cors.includes("Fix:") && cors.includes(noCorsOrigin),
      cors,
    );
    await page.click("#stop");
    await page.waitForSelector(".message.notice:has-text('Stopped.')");

    // 2. The mock as the provider; a file added, a too-large one refused.
    await page.fill("#base-url", mock.url);
    await page.click("#connect");
    await page.setInputFiles("#file-input", {
      name: "notes.txt",
      mimeType: "text/plain",
      buffer: Buffer.from("the quick brwon fox\n"),
    });
    await page.waitForSelector("#files li[data-path='notes.txt']");
    await page.setInputFiles("#file-input", {
      name: "big.log",
      mimeType: "text/plain",
      buffer: Buffer.alloc(6 * 1024 * 1024, 120),
    });
    await page.waitForSelector("#files-error:not([hidden])");
    check(
      "a file over the cap is refused with a message",
      (await page.textContent("#files-error")).includes("big.log was not added: it is 6.0 MB") &&
        (await page.$("#files li[data-path='big.log']")) === null,
    );

    // 3. A streamed answer, a read, an edit after a permission answer.
    await page.fill("#prompt", "Fix the typo in notes.txt");
    await page.click("#send");
    await page.waitForSelector(".permission button[data-decision=allow_once]");
    const question = await lastText(".permission p");
    check("the edit asks for permission", question.includes("edit") && question.includes("notes.txt"), question);
    check("the read ran without asking", (await page.$$(".tool-card.ok")).length === 1);
    await page.click(".permission button[data-decision=allow_once]");
    await page.waitForSelector(".message.assistant:has-text('Fixed the typo')");
    await page.waitForFunction(() => document.getElementById("status").textContent === "ready");
    const edited = await page.evaluate(() => new TextDecoder().decode(window.cmPage.cm.readFile("notes.txt")));
    check("the edit changed the virtual file", edited === "the quick brown fox\n", JSON.stringify(edited));
    check("the file panel marks the changed file", (await page.$("#files li.changed[data-path='notes.txt']")) !== null);
    check("both tool cards succeeded", (await page.$$(".tool-card.ok")).length === 2);
    const html = await page.$$eval(".message.assistant", (nodes) => nodes.map((n) => n.innerHTML).join("\n"));
    check(
      "answers are rendered as Markdown",
      html.includes("<strong>read</strong>") && html.includes("<li><code>brwon</code> → <strong>brown</strong></li>"),
      html,
    );

    // 4. An abort while the answer streams keeps the partial answer.
    await page.fill("#prompt", "Tell me a long story");
    await page.click("#send");
    await page.waitForSelector(".message.assistant:has-text('Once upon a time')");
    await page.click("#stop");
    await page.waitForSelector(".message.notice:has-text('Stopped.')");
    const partial = await page.evaluate(() => window.cmPage.cm.history().at(-1));
    const partialText = partial.parts.map((p) => p.text || "").join("");
    check(
      "an abort stops the stream and keeps what arrived",
      partialText.startsWith("Once upon a time") && partialText.length < story.length,
      `${partialText.length} of ${story.length}`,
    );

    // 5. A provider error mid-stream is shown; the session goes on.
    await page.fill("#prompt", "And now?");
    await page.click("#send");
    await page.waitForSelector(".message.error:has-text('mock failure mid-stream')");
    await page.waitForFunction(() => document.getElementById("status").textContent === "ready");
    await page.fill("#prompt", "Are you still there? Check the page.");
    await page.click("#send");
    const allowFetch = ".permission:not(.answered) button[data-decision=allow_once]";
    await page.waitForSelector(allowFetch);
    check("webfetch asks first", (await lastText(".permission p")).includes("webfetch"));
    await page.click(allowFetch);
    await page.waitForSelector(".message.assistant:has-text('Still here')");
    check("after a provider error the conversation goes on, webfetch through fetch", (await page.$$(".tool-card.ok")).length === 3);
    const shot = path.join(tmp, "cm-wasm-e2e.png");
    await page.screenshot({ path: shot, fullPage: true });

    // 6. The session is saved and reloads after a page reload.
    const sessionId = await page.evaluate(() => window.cmPage.cm.sessionId());
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    await page.fill("#api-key", "sk-ant-e2e");
    await page.click("#connect");
    await page.waitForSelector(`#sessions li[data-id='${sessionId}']`);
    check(
      "the session is listed with its first prompt as title",
      (await page.textContent(`#sessions li[data-id='${sessionId}'] a`)) === "Fix the typo in notes.txt",
    );
    await page.click(`#sessions li[data-id='${sessionId}'] a`);
    await page.waitForSelector(".message.assistant:has-text('Still here')");
    check(
      "a reloaded session shows its history",
      (await page.$$(".message.user")).length === 4 && (await page.$$(".tool-card.ok")).length === 3,
    );

    // 7. A full storage quota: reported, nothing half-written.
    const before = await page.evaluate((id) => {
      const filler = (n) => "x".repeat(n);
      let i = 0;
      for (let size = 1 << 20; size >= 16; size >>= 1) {
        for (;;) {
          try {
            localStorage.setItem(`e2e.fill.${i++}`, filler(size));
          } catch {
            break;
          }
        }
      }
      return localStorage.getItem(`cm.session.${id}`);
    }, sessionId);
    await page.fill("#prompt", "One more thing, please, with a long enough prompt to not fit anywhere at all.");
    await page.click("#send");
    await page.waitForSelector(".message.error:has-text('storage for this page is full')");
    const after = await page.evaluate((id) => localStorage.getItem(`cm.session.${id}`), sessionId);
    check("a full quota is reported and the saved session is unchanged", before === after && before !== null);
    check("the page raised no uncaught error", pageErrors.length === 0, pageErrors.join("; "));

    console.log(`screenshot: ${shot}`);
    console.log(`e2e: ${passed} passed, 0 failed`);
  } catch (error) {
    const pages = context.pages();
    if (pages.length) {
      const shot = path.join(tmp, "cm-wasm-e2e-failure.png");
      await pages[0].screenshot({ path: shot, fullPage: true }).catch(() => {});
      console.error(`screenshot of the failure: ${shot}`);
    }
    console.error(`e2e: ${passed} passed, 1 failed`);
    throw error;
  } finally {
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
