/// The stylesheet and the one script, served from `/static/` (the only origin the Content-Security-Policy allows).
/// Every flow works without the script: it only refreshes a payment page while it waits and asks before a bill run.
public enum WebAssets {
    public static let stylesheet = """
        :root{--ink:#1a1a1a;--muted:#555;--line:#d0d0d0;--accent:#0b5cad;--bad:#a30000;--ok:#0a6b2d;--bg:#f6f6f4;--card:#fff}
        *{box-sizing:border-box}
        body{margin:0;font:16px/1.5 system-ui,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:var(--ink);background:var(--bg)}
        a{color:var(--accent)} a:focus,button:focus,input:focus,select:focus{outline:3px solid #f2a900;outline-offset:1px}
        .skip{position:absolute;left:-999px} .skip:focus{left:.5rem;top:.5rem;background:#fff;padding:.5rem;z-index:2}
        .sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
        header.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem;padding:.6rem 1rem;background:#12324f;color:#fff}
        header.top a{color:#fff} .brand{font-weight:600;text-decoration:none}
        nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:0;padding:0}
        nav a[aria-current=page]{font-weight:700;text-decoration:underline}
        .signout{margin-left:auto;display:flex;gap:.5rem;align-items:center}
        main{max-width:72rem;margin:0 auto;padding:1rem}
        h1{font-size:1.5rem;margin:.5rem 0 1rem} h2{font-size:1.2rem;margin:1.5rem 0 .5rem} h3{font-size:1.05rem;margin:1rem 0 .4rem}
        .card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:1rem;margin:0 0 1rem}
        .narrow{max-width:26rem}
        label{display:block;font-weight:600;margin:.2rem 0}
        fieldset label,.inline label{display:inline-block;font-weight:400;margin-right:1rem}
        input,select,button{font:inherit;padding:.45rem .6rem;border:1px solid #767676;border-radius:4px;max-width:100%}
        input{min-width:0;width:100%} .inline input,input[type=radio],input[type=checkbox]{width:auto}
        button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
        button[value=reject]{background:#fff;color:var(--bad);border-color:var(--bad)}
        .signout button{background:transparent;border-color:#fff}
        table{width:100%;border-collapse:collapse;background:var(--card);margin:.5rem 0 1rem}
        th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
        .num{text-align:right} .money{font-variant-numeric:tabular-nums;white-space:nowrap} .big{font-size:2rem;font-weight:700}
        .muted{color:var(--muted)} .explain{font-size:.9rem;color:var(--muted)}
        .flash{padding:.6rem .8rem;border-radius:4px;border:1px solid} .flash.ok{color:var(--ok);border-color:var(--ok);background:#eef8f1}
        .flash.error{color:var(--bad);border-color:var(--bad);background:#fdf0f0}
        .figures{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem 1.5rem} .figures .label{color:var(--muted)}
        .low .money{color:var(--bad)} .badge{color:#fff;background:var(--bad);border-radius:3px;padding:0 .3rem;font-size:.85rem}
        .tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:.75rem}
        .tile{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.8rem} .tile .value{font-size:1.6rem;font-weight:700}
        .tile.alert{border-color:var(--bad)} .tile.alert .value{color:var(--bad)}
        .facts{display:grid;grid-template-columns:minmax(6rem,max-content) 1fr;gap:.2rem 1rem} .facts dt{color:var(--muted)} .facts dd{margin:0}
        .chart{width:100%;height:auto;max-height:14rem} .chart .bar{fill:#7aa7d6} .chart .bar.now{fill:var(--accent)} .chart .axis{stroke:#888}
        .chart text{font-size:11px;fill:#333}
        .qr svg{width:14rem;height:14rem} .bill-qr{float:right;margin:0 0 1rem 1rem;text-align:center} .bill-qr svg{width:9rem;height:9rem}
        footer{max-width:72rem;margin:2rem auto;padding:1rem;color:var(--muted);border-top:1px solid var(--line)}
        @media (max-width:40rem){main{padding:.6rem} table{font-size:.9rem} th,td{padding:.3rem} .signout{margin-left:0}}
        @media print{header.top,footer,form,.skip,main>p>a{display:none} body{background:#fff} .card,.tile{border:none}}

        """

    /// The tab's icon: a courtyard's gate.
    public static let icon = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#12324f"/>\
        <path d="M7 26V13l9-6 9 6v13h-6v-8h-6v8z" fill="#fff"/></svg>

        """

    public static let script = """
        "use strict";
        // Progressive enhancement only: every page works without this file.
        document.addEventListener("DOMContentLoaded", function () {
          // A payment page waiting for its result looks again every few seconds.
          var refresh = document.querySelector("[data-refresh]");
          if (refresh) {
            var seconds = parseInt(refresh.getAttribute("data-refresh"), 10) || 5;
            setTimeout(function () { window.location.reload(); }, seconds * 1000);
          }
          // A bill run that writes bills asks once more.
          document.querySelectorAll("button[value=confirm]").forEach(function (button) {
            button.addEventListener("click", function (event) {
              if (!window.confirm(button.textContent + "?")) { event.preventDefault(); }
            });
          });
        });

        """
}
