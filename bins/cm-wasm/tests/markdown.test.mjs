// The page's Markdown renderer: `node --test` (run by e2e.sh before the browser test).
import assert from "node:assert/strict";
import test from "node:test";
import { renderMarkdown } from "../www/markdown.js";

test("inline styles, lists, headings and code render", () => {
  assert.equal(
    renderMarkdown("# Title\n\nSome **bold**, *em* and `a<b`.\n\n- one\n- two\n\n1. first"),
    "<h1>Title</h1><p>Some <strong>bold</strong>, <em>em</em> and <code>a&lt;b</code>.</p>" +
      "<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>",
  );
});

test("an unclosed fence mid-stream renders as code so far", () => {
  assert.equal(renderMarkdown("```rust\nfn main() {"), '<pre><code class="language-rust">fn main() {</code></pre>');
  assert.equal(
    renderMarkdown("```\n<script>\n```\nafter"),
    "<pre><code>&lt;script&gt;</code></pre><p>after</p>",
  );
});

test("html is escaped and only http(s) links become anchors", () => {
  assert.equal(renderMarkdown("<img src=x onerror=alert(1)>"), "<p>&lt;img src=x onerror=alert(1)&gt;</p>");
  assert.equal(renderMarkdown("[x](javascript:alert(1))"), "<p>[x](javascript:alert(1))</p>");
  assert.equal(
    renderMarkdown('[docs](https://example.com/a"b)'),
    '<p><a href="https://example.com/a&quot;b" target="_blank" rel="noopener noreferrer">docs</a></p>',
  );
});

test("every prefix of a streamed answer renders without throwing", () => {
  const answer = "Fixed:\n\n- `brwon` → **brown**\n\n```js\nlet x = 1;\n```\nDone.";
  for (let i = 0; i <= answer.length; i++) renderMarkdown(answer.slice(0, i));
});
