/// The pages' Mustache templates, kept in the binary (no resource folder to lose when the executable moves).
///
/// Every page is `{{> head}}`, its body and `{{> foot}}`. Text comes from `{{t.key}}` (``WebText``); values are
/// escaped by Mustache's HTML content type, except `{{{…}}}`, used only for SVG the server drew itself. No page has an
/// inline script or style: the Content-Security-Policy allows only `/static/`.
enum WebTemplates {
    static let all: [String: String] = [
        "head": head, "foot": foot, "login": login, "error": error,
        "portal_home": portalHome, "portal_bill": portalBill, "portal_order": portalOrder, "console_bill": consoleBill,
        "console_dashboard": consoleDashboard, "console_houses": consoleHouses, "console_house": consoleHouse,
        "console_shift": consoleShift, "console_review": consoleReview, "console_bill_runs": consoleBillRuns,
        "console_refunds": consoleRefunds, "console_audit": consoleAudit,
    ]

    static let head = """
        <!doctype html>
        <html lang="{{lang}}">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · {{t.product}}</title>
        <link rel="icon" href="/static/icon.svg" type="image/svg+xml">
        <link rel="stylesheet" href="/static/app.css">
        <script src="/static/app.js" defer></script>
        </head>
        <body class="{{chromeArea}}">
        <a class="skip" href="#main">{{t.skip_to_content}}</a>
        <header class="top">
        <a class="brand" href="{{home}}">{{t.product}}{{#areaName}} · {{areaName}}{{/areaName}}</a>
        {{#user}}
        <nav aria-label="{{t.home}}"><ul>{{#nav}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a></li>{{/nav}}</ul></nav>
        <form method="post" action="/logout" class="signout"><input type="hidden" name="_csrf" value="{{csrf}}"><span class="who">{{user}}</span> <button type="submit">{{t.sign_out}}</button></form>
        {{/user}}
        </header>
        <main id="main">
        <h1>{{title}}</h1>
        {{#flash}}<p class="flash {{kind}}" role="{{role}}">{{text}}</p>{{/flash}}

        """

    static let foot = """

        </main>
        <footer><span>{{t.language}}:</span> <a href="/language?to=zh-CN&amp;next={{here}}" lang="zh-CN">中文</a> · <a href="/language?to=en&amp;next={{here}}" lang="en">English</a></footer>
        </body>
        </html>

        """

    static let login = """
        {{> head}}
        <form method="post" action="/login" class="card narrow">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <input type="hidden" name="next" value="{{next}}">
        <p><label for="login">{{t.login}}</label><input id="login" name="login" autocomplete="username" required value="{{login}}" autofocus></p>
        <p><label for="password">{{t.password}}</label><input id="password" name="password" type="password" autocomplete="current-password" required></p>
        <p><button type="submit">{{t.sign_in}}</button></p>
        </form>
        {{> foot}}
        """

    static let error = """
        {{> head}}
        <p class="card">{{message}}</p>
        <p><a href="{{home}}">{{t.home}}</a></p>
        {{> foot}}
        """

    static let portalHome = """
        {{> head}}
        {{^houses}}<p class="card">{{t.no_houses}}</p>{{/houses}}
        {{#houses}}
        <section class="card house" aria-labelledby="house-{{id}}">
        <h2 id="house-{{id}}">{{name}}</h2>
        <p class="muted">{{community}}</p>
        <h3>{{t.wallets}}</h3>
        {{^wallets}}<p class="muted">{{t.none}}</p>{{/wallets}}
        <ul class="figures">{{#wallets}}<li class="{{#low}}low{{/low}}"><span class="label">{{label}}</span> <span class="money" data-test="wallet-{{purpose}}">{{balance}}</span>{{#low}} <strong class="badge">{{t.low_balance}}</strong>{{/low}}</li>{{/wallets}}</ul>
        <form method="post" action="/portal/houses/{{id}}/top-up" class="inline">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <label for="purpose-{{id}}">{{t.wallet}}</label>
        <select id="purpose-{{id}}" name="purpose">{{#purposes}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/purposes}}</select>
        <label for="amount-{{id}}">{{t.top_up_amount}}</label>
        <input id="amount-{{id}}" name="amount" inputmode="decimal" required pattern="[0-9]+(\\.[0-9]{1,2})?" size="8">
        <button type="submit">{{t.top_up}}</button>
        </form>
        <h3>{{t.unpaid_bills}}</h3>
        {{^bills}}<p class="muted">{{t.no_unpaid_bills}}</p>{{/bills}}
        {{#hasBills}}
        <table><thead><tr><th scope="col">{{t.period}}</th><th scope="col">{{t.due_date}}</th><th scope="col" class="num">{{t.amount_due}}</th><th scope="col"><span class="sr">{{t.view}}</span></th></tr></thead>
        <tbody>{{#bills}}<tr><td>{{period}}</td><td>{{dueDate}}</td><td class="num money">{{due}}</td><td><a href="/portal/bills/{{id}}">{{t.view}}</a></td></tr>{{/bills}}</tbody></table>
        <form method="post" action="/portal/houses/{{id}}/pay-bills" class="inline">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <button type="submit">{{t.pay_bills}} ({{totalDue}})</button>
        </form>
        {{/hasBills}}
        <h3>{{t.usage_this_month}}</h3>
        {{#charts}}<figure><figcaption>{{caption}}</figcaption>{{{svg}}}</figure>{{/charts}}
        {{^charts}}<p class="muted">{{t.none}}</p>{{/charts}}
        <h3>{{t.payments}}</h3>
        {{^payments}}<p class="muted">{{t.none}}</p>{{/payments}}
        {{#hasPayments}}
        <table><thead><tr><th scope="col">{{t.paid_at}}</th><th scope="col">{{t.channel}}</th><th scope="col" class="num">{{t.amount}}</th><th scope="col">{{t.receipt}}</th></tr></thead>
        <tbody>{{#payments}}<tr><td>{{paidAt}}</td><td>{{channel}}</td><td class="num money">{{amount}}</td><td>{{#receipt}}<a href="{{receipt}}">{{t.receipt}}</a>{{/receipt}}</td></tr>{{/payments}}</tbody></table>
        {{/hasPayments}}
        </section>
        {{/houses}}
        {{> foot}}
        """

    static let billDetail = """
        {{#qr}}<figure class="qr bill-qr">{{{qr}}}<figcaption class="muted">{{t.scan_at_desk}}</figcaption></figure>{{/qr}}
        <dl class="facts">
        <dt>{{t.house}}</dt><dd>{{house}}</dd>
        <dt>{{t.period}}</dt><dd>{{period}}</dd>
        <dt>{{t.due_date}}</dt><dd>{{dueDate}}</dd>
        <dt>{{t.status}}</dt><dd>{{status}}</dd>
        <dt>{{t.total}}</dt><dd class="money">{{total}}</dd>
        <dt>{{t.paid}}</dt><dd class="money">{{paid}}</dd>
        <dt>{{t.late_fees}}</dt><dd class="money">{{lateFees}}</dd>
        <dt>{{t.amount_due}}</dt><dd class="money" data-test="amount-due">{{due}}</dd>
        </dl>
        <table><caption>{{t.lines}}</caption>
        <thead><tr><th scope="col">{{t.fee_item}}</th><th scope="col" class="num">{{t.quantity}}</th><th scope="col" class="num">{{t.unit_price}}</th><th scope="col" class="num">{{t.amount}}</th><th scope="col">{{t.how_computed}}</th></tr></thead>
        <tbody>{{#lines}}<tr><td>{{item}}</td><td class="num">{{quantity}}</td><td class="num">{{unitPrice}}</td><td class="num money">{{amount}}</td><td class="explain">{{#explain}}<div>{{.}}</div>{{/explain}}</td></tr>{{/lines}}</tbody>
        </table>
        """

    static let portalBill = """
        {{> head}}
        \(billDetail)
        <p><a href="/portal">{{t.back}}</a></p>
        {{> foot}}
        """

    static let consoleBill = """
        {{> head}}
        \(billDetail)
        <p><a href="/console/houses/{{houseId}}">{{t.back}}</a></p>
        {{> foot}}
        """

    static let portalOrder = """
        {{> head}}
        <section class="card narrow">
        <p class="money big">{{amount}}</p>
        {{#paid}}<p class="flash ok" role="status">{{t.order_paid}}</p>{{/paid}}
        {{^paid}}
        <p>{{t.pay_with_wechat}}</p>
        <div class="qr">{{{qr}}}</div>
        <p class="muted">{{t.order_waiting}}</p>
        <p><a href="/portal/orders/{{outTradeNo}}" data-refresh="5">{{t.view}}</a></p>
        {{/paid}}
        <p><a href="/portal">{{t.back}}</a></p>
        </section>
        {{> foot}}
        """

    static let consoleDashboard = """
        {{> head}}
        <section class="tiles">
        {{#tiles}}<div class="tile{{#alert}} alert{{/alert}}"><div class="label">{{label}}</div><div class="value" data-test="{{key}}">{{value}}</div>{{#detail}}<div class="muted">{{detail}}</div>{{/detail}}{{#href}}<a href="{{href}}">{{t.view}}</a>{{/href}}</div>{{/tiles}}
        </section>
        <h2>{{t.payments_today}}</h2>
        {{^channels}}<p class="muted">{{t.none}}</p>{{/channels}}
        {{#hasChannels}}
        <table><thead><tr><th scope="col">{{t.channel}}</th><th scope="col" class="num">{{t.payments}}</th><th scope="col" class="num">{{t.amount}}</th></tr></thead>
        <tbody>{{#channels}}<tr><td>{{channel}}</td><td class="num">{{count}}</td><td class="num money">{{amount}}</td></tr>{{/channels}}</tbody></table>
        {{/hasChannels}}
        <p class="muted">{{t.as_of}} {{asOf}}</p>
        {{> foot}}
        """

    static let consoleHouses = """
        {{> head}}
        <form method="get" action="/console/houses" class="search" role="search">
        <label for="q">{{t.find_house}}</label>
        <input id="q" name="q" value="{{q}}" autofocus autocomplete="off" data-scanner aria-describedby="q-hint">
        <button type="submit">{{t.search}}</button>
        <p id="q-hint" class="muted">{{t.search_hint}}</p>
        </form>
        {{#searched}}{{^results}}<p>{{t.no_results}}</p>{{/results}}{{/searched}}
        {{#hasResults}}
        <table><thead><tr><th scope="col">{{t.house}}</th><th scope="col">{{t.community}}</th><th scope="col">{{t.people}}</th><th scope="col"><span class="sr">{{t.view}}</span></th></tr></thead>
        <tbody>{{#results}}<tr><td>{{name}}</td><td>{{community}}</td><td>{{people}}</td><td><a href="/console/houses/{{id}}">{{t.view}}</a></td></tr>{{/results}}</tbody></table>
        {{/hasResults}}
        {{> foot}}
        """

    static let consoleHouse = """
        {{> head}}
        {{#receipt}}<p class="card"><a href="{{receipt}}" data-test="print-receipt">{{t.print_receipt}}</a></p>{{/receipt}}
        <dl class="facts">
        <dt>{{t.community}}</dt><dd>{{community}}</dd>
        <dt>{{t.area}}</dt><dd>{{area}}</dd>
        <dt>{{t.people}}</dt><dd>{{#people}}<div>{{name}} ({{relation}}){{#phone}} · {{phone}}{{/phone}}</div>{{/people}}{{^people}}{{t.none}}{{/people}}</dd>
        </dl>
        <h2>{{t.wallets}}</h2>
        {{^wallets}}<p class="muted">{{t.none}}</p>{{/wallets}}
        <ul class="figures">{{#wallets}}<li class="{{#low}}low{{/low}}"><span class="label">{{label}}</span> <span class="money">{{balance}}</span></li>{{/wallets}}</ul>
        <h2>{{t.unpaid_bills}}</h2>
        {{^bills}}<p class="muted">{{t.no_unpaid_bills}}</p>{{/bills}}
        {{#hasBills}}
        <table><thead><tr><th scope="col">{{t.period}}</th><th scope="col">{{t.due_date}}</th><th scope="col" class="num">{{t.total}}</th><th scope="col" class="num">{{t.amount_due}}</th></tr></thead>
        <tbody>{{#bills}}<tr><td><a href="/console/bills/{{id}}">{{period}}</a></td><td>{{dueDate}}</td><td class="num money">{{total}}</td><td class="num money">{{due}}</td></tr>{{/bills}}</tbody>
        <tfoot><tr><th scope="row" colspan="3">{{t.amount_due}}</th><td class="num money" data-test="house-due">{{totalDue}}</td></tr></tfoot></table>
        {{/hasBills}}
        {{#desk}}
        <h2>{{t.take_payment}}</h2>
        {{#shiftId}}
        <form method="post" action="/console/houses/{{houseId}}/payments" class="card">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <input type="hidden" name="request_id" value="{{requestId}}">
        <p><label for="amount">{{t.amount}} ({{t.yuan}})</label><input id="amount" name="amount" inputmode="decimal" required value="{{suggested}}" pattern="[0-9]+(\\.[0-9]{1,2})?"></p>
        <fieldset><legend>{{t.pay_method}}</legend>
        <label><input type="radio" name="channel" value="cash" checked> {{t.cash}}</label>
        <label><input type="radio" name="channel" value="pos"> {{t.pos}}</label>
        </fieldset>
        <p><button type="submit">{{t.take_payment}}</button></p>
        </form>
        {{/shiftId}}
        {{^shiftId}}<p>{{t.no_open_shift}} <a href="/console/shift">{{t.open_shift}}</a></p>{{/shiftId}}
        {{/desk}}
        <h2>{{t.payments}}</h2>
        {{^payments}}<p class="muted">{{t.none}}</p>{{/payments}}
        {{#hasPayments}}
        <table><thead><tr><th scope="col">{{t.paid_at}}</th><th scope="col">{{t.channel}}</th><th scope="col" class="num">{{t.amount}}</th><th scope="col">{{t.receipt}}</th></tr></thead>
        <tbody>{{#payments}}<tr><td>{{paidAt}}</td><td>{{channel}}</td><td class="num money">{{amount}}</td><td>{{#receipt}}<a href="{{receipt}}">{{t.print_receipt}}</a>{{/receipt}}</td></tr>{{/payments}}</tbody></table>
        {{/hasPayments}}
        {{> foot}}
        """

    static let consoleShift = """
        {{> head}}
        {{#shift}}
        <p>{{t.shift_open_since}} {{openedAt}} · {{t.opening_float}} <span class="money">{{openingFloat}}</span></p>
        <table><thead><tr><th scope="col">{{t.paid_at}}</th><th scope="col">{{t.house}}</th><th scope="col">{{t.channel}}</th><th scope="col" class="num">{{t.amount}}</th><th scope="col">{{t.receipt}}</th></tr></thead>
        <tbody>{{#payments}}<tr><td>{{paidAt}}</td><td>{{house}}</td><td>{{channel}}</td><td class="num money">{{amount}}</td><td>{{#receipt}}<a href="{{receipt}}">{{t.print_receipt}}</a>{{/receipt}}</td></tr>{{/payments}}</tbody></table>
        <form method="post" action="/console/shift/close" class="card">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <p><label for="counted">{{t.counted_cash}} ({{t.yuan}})</label><input id="counted" name="counted" inputmode="decimal" required pattern="[0-9]+(\\.[0-9]{1,2})?"></p>
        <p><label for="note">{{t.note}}</label><input id="note" name="note"></p>
        <p><button type="submit">{{t.close_shift}}</button></p>
        </form>
        {{/shift}}
        {{^shift}}
        <form method="post" action="/console/shift" class="card">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <p><label for="community">{{t.community}}</label><select id="community" name="community_id" required>{{#communities}}<option value="{{id}}">{{name}}</option>{{/communities}}</select></p>
        <p><label for="float">{{t.opening_float}} ({{t.yuan}})</label><input id="float" name="opening_float" inputmode="decimal" required value="0" pattern="[0-9]+(\\.[0-9]{1,2})?"></p>
        <p><button type="submit">{{t.open_shift}}</button></p>
        </form>
        {{/shift}}
        {{> foot}}
        """

    static let consoleReview = """
        {{> head}}
        {{^items}}<p>{{t.nothing_to_review}}</p>{{/items}}
        {{#items}}
        <section class="card" aria-labelledby="held-{{id}}">
        <h2 id="held-{{id}}">{{device}} · {{measuredAt}}</h2>
        <dl class="facts"><dt>{{t.reading}}</dt><dd>{{value}}</dd><dt>{{t.reason}}</dt><dd>{{reason}}</dd></dl>
        <form method="post" action="/console/review/{{id}}" class="inline">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <label for="note-{{id}}">{{t.note}}</label><input id="note-{{id}}" name="note" required>
        <button type="submit" name="decision" value="approve">{{t.approve}}</button>
        <button type="submit" name="decision" value="reject">{{t.reject}}</button>
        </form>
        </section>
        {{/items}}
        {{> foot}}
        """

    static let consoleRefunds = """
        {{> head}}
        {{^items}}<p>{{t.nothing_to_approve}}</p>{{/items}}
        {{#items}}
        <section class="card" aria-labelledby="refund-{{id}}">
        <h2 id="refund-{{id}}">{{house}} · <span class="money">{{amount}}</span></h2>
        <dl class="facts">
        <dt>{{t.reason}}</dt><dd>{{reason}}</dd>
        <dt>{{t.refund_to}}</dt><dd>{{destination}}</dd>
        <dt>{{t.requested_at}}</dt><dd>{{requestedAt}}</dd>
        <dt>{{t.rule}}</dt><dd>{{rule}}</dd>
        </dl>
        {{#own}}<p class="muted">{{t.your_request}}</p>{{/own}}
        <form method="post" action="/console/refunds/{{id}}" class="inline">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <label for="why-{{id}}">{{t.reason}}</label><input id="why-{{id}}" name="reason" required>
        {{^own}}<button type="submit" name="decision" value="approve">{{t.approve}}</button>{{/own}}
        <button type="submit" name="decision" value="reject">{{t.reject}}</button>
        </form>
        </section>
        {{/items}}
        {{> foot}}
        """

    static let consoleAudit = """
        {{> head}}
        <form method="get" action="/console/audit" class="inline" role="search">
        <label for="action">{{t.action}}</label><input id="action" name="action" value="{{action}}">
        <label for="subject">{{t.subject}}</label><input id="subject" name="subject_id" value="{{subject}}">
        <button type="submit">{{t.search}}</button>
        </form>
        {{^entries}}<p>{{t.none}}</p>{{/entries}}
        {{#hasEntries}}
        <table><thead><tr><th scope="col">{{t.when}}</th><th scope="col">{{t.who}}</th><th scope="col">{{t.action}}</th><th scope="col">{{t.subject}}</th><th scope="col">{{t.reason}}</th><th scope="col">{{t.change}}</th></tr></thead>
        <tbody>{{#entries}}<tr><td>{{at}}</td><td>{{actor}}</td><td>{{action}}</td><td>{{subject}}</td><td>{{reason}}</td><td class="explain">{{#before}}<div>{{t.before}}: {{before}}</div>{{/before}}{{#after}}<div>{{t.after}}: {{after}}</div>{{/after}}</td></tr>{{/entries}}</tbody></table>
        {{/hasEntries}}
        {{#next}}<p><a href="{{next}}" rel="next">{{t.next_page}}</a></p>{{/next}}
        {{> foot}}
        """

    static let consoleBillRuns = """
        {{> head}}
        <form method="post" action="/console/bill-runs" class="card">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <p><label for="community">{{t.community}}</label><select id="community" name="community_id" required>{{#communities}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/communities}}</select></p>
        <p><label for="period">{{t.period}}</label><input id="period" name="period" required pattern="[0-9]{4}-[0-9]{2}" value="{{period}}" placeholder="2026-11"></p>
        <p><button type="submit" name="action" value="preview">{{t.preview}}</button>
        {{#canConfirm}}<button type="submit" name="action" value="confirm">{{t.confirm_run}}</button>{{/canConfirm}}</p>
        </form>
        {{#summary}}
        <section class="card" aria-labelledby="summary">
        <h2 id="summary">{{heading}}</h2>
        <dl class="facts">
        <dt>{{t.houses_considered}}</dt><dd data-test="houses-considered">{{housesConsidered}}</dd>
        <dt>{{t.bills_created}}</dt><dd data-test="bills-created">{{billsCreated}}</dd>
        <dt>{{t.lines_created}}</dt><dd>{{linesCreated}}</dd>
        <dt>{{t.total}}</dt><dd class="money" data-test="run-total">{{total}}</dd>
        </dl>
        {{#hasItems}}<table><thead><tr><th scope="col">{{t.fee_item}}</th><th scope="col" class="num">{{t.lines}}</th><th scope="col" class="num">{{t.amount}}</th></tr></thead>
        <tbody>{{#items}}<tr><td>{{code}}</td><td class="num">{{lines}}</td><td class="num money">{{amount}}</td></tr>{{/items}}</tbody></table>{{/hasItems}}
        {{#hasSkipped}}<h3>{{t.skipped}}</h3><ul>{{#skipped}}<li>{{.}}</li>{{/skipped}}</ul>{{/hasSkipped}}
        </section>
        {{/summary}}
        {{> foot}}
        """
}
