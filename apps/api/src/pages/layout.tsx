import type { Child } from "hono/jsx";

/** Small, readable, no external assets: the page must work offline and with scripts disabled. */
const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.5rem}label{display:block;font-weight:600;margin-bottom:.25rem}
input{font:inherit;padding:.4rem;border:1px solid #767676;border-radius:4px}
button{font:inherit;padding:.4rem .9rem;margin-left:.5rem;border-radius:4px;border:1px solid #1b1b1b;background:#fff}
.verdict{padding:1rem;border-radius:6px;border:2px solid;margin:1rem 0}
.valid{border-color:#1a7f37;background:#dafbe1}.revoked,.expired,.no_match{border-color:#cf222e;background:#ffebe9}
.field{margin-bottom:.75rem}.field~button{margin-left:0}.hint{margin:.25rem 0 0;color:#57606a;font-size:.9rem}
.unknown,.notice{border-color:#9a6700;background:#fff8c5}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;word-break:break-all}
`;

export function Layout(props: { title: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title}</title>
        <style>{STYLE}</style>
      </head>
      <body>
        <header>
          <p>
            <a href="/verify">certchain</a> · certificate verification
          </p>
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}
