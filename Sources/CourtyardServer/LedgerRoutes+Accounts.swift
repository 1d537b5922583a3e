import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import Hummingbird

extension LedgerRoutes {
    /// Accounts as finance reads them: balances now or as of an instant, statements, a community's trial balance and
    /// journal head, and its ledger policies.
    static func registerAccounts(on api: DocumentedRouter, services: ServerServices) {
        let (key, _, _, exampleEntry) = examples()
        let exampleAccount = AccountView(
            id: key.key.id, communityId: Example.community, kind: .wallet, owner: Example.house,
            purpose: "electricity", balance: Money(minorUnits: 10_000), available: Money(minorUnits: 8_000),
            debitsPosted: .zero(), creditsPosted: Money(minorUnits: 10_000), debitsPending: Money(minorUnits: 2_000),
            creditsPending: .zero(), asOf: nil, balanceAsOf: nil)
        api.schema("LedgerAccount", example: exampleAccount)
        api.schema(
            "LedgerStatement",
            example: Statement(
                account: exampleAccount,
                items: [
                    StatementLine(entry: exampleEntry, side: "credit", balanceAfter: Money(minorUnits: 10_000))
                ], nextCursor: nil))
        api.schema(
            "TrialBalance",
            example: TrialBalance(
                communityId: Example.community,
                rows: [
                    TrialBalanceRow(kind: "clearing", debits: Money(minorUnits: 10_000), credits: .zero()),
                    TrialBalanceRow(kind: "wallet", debits: .zero(), credits: Money(minorUnits: 10_000)),
                ],
                debits: Money(minorUnits: 10_000), credits: Money(minorUnits: 10_000), balanced: true))
        api.schema("LedgerHead", example: Head(communityId: Example.community, sequence: 1, hash: JournalEntry.genesisHash))
        api.schema("LedgerPolicy", example: Policy(emergencyCredit: Money(minorUnits: 2_000)), required: ["emergency_credit"])

        api.on(
            .get, "/api/v1/ledger/accounts/:id", summary: "An account's balances now (and as of `as_of`, RFC 3339)",
            tag: "Ledger", permission: .manageFinance, response: "LedgerAccount", query: ["as_of"]
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let id = try context.parameters.require("id")
            let asOf = try request.uri.queryParameters["as_of"].map { text -> Date in
                guard let date = try? Date(String(text), strategy: .iso8601) else {
                    throw Problem.invalid("as_of", code: "invalid_format", "as_of must be an RFC 3339 instant")
                }
                return date
            }
            let view = try await services.database.read { db in
                let store = LedgerStore(db, companyId: scope.companyId, engine: services.database.engine)
                guard let account = try await store.account(id: id), scope.includes(communityId: account.key.communityId) else {
                    throw Problem.notFound("account")
                }
                var view = accountView(account)
                if let asOf {
                    view.asOf = asOf
                    view.balanceAsOf = money(try await store.balance(of: account, asOf: asOf), account.currency)
                }
                return view
            }
            return try .json(view)
        }

        api.on(
            .get, "/api/v1/ledger/accounts/:id/statement", summary: "An account's entries, newest first, with its running balance",
            tag: "Ledger", permission: .manageFinance, response: "LedgerStatement", query: ["limit", "cursor"]
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let id = try context.parameters.require("id")
            let (_, cursorText, limit) = try ResourceRoutes.listParameters(request, filters: [], cursor: .own)
            let cursor = try cursorText.map { text -> Int64 in
                guard let value = Int64(text), value >= 0 else {
                    throw Problem.invalid("cursor", code: "invalid_format", "cursor must come from next_cursor")
                }
                return value
            }
            let statement = try await services.database.read { db in
                let store = LedgerStore(db, companyId: scope.companyId, engine: services.database.engine)
                guard let account = try await store.account(id: id), scope.includes(communityId: account.key.communityId) else {
                    throw Problem.notFound("account")
                }
                // Newest first; the next page starts at the entry after this page's last one.
                let entries = try await store.statement(of: account, from: cursor, limit: limit + 1)
                let lines = entries.prefix(limit).map { entry in
                    let side = entry.debitAccountId == account.id ? "debit" : "credit"
                    return StatementLine(
                        entry: EntryView(entry), side: side,
                        balanceAfter: money(side == "debit" ? entry.debitBalanceAfter : entry.creditBalanceAfter, account.currency))
                }
                return Statement(
                    account: accountView(account), items: Array(lines),
                    nextCursor: entries.count > limit ? String(entries[limit].sequence) : nil)
            }
            return try .json(statement)
        }

        api.on(
            .get, "/api/v1/communities/:id/ledger/trial-balance", summary: "Posted totals per account kind; debits equal credits",
            tag: "Ledger", permission: .manageFinance, response: "TrialBalance"
        ) { _, context in
            let scope = try context.scope(for: .manageFinance)
            let community = try await requireCommunity(context, scope: scope, services: services)
            let rows = try await services.database.read { db in
                try await LedgerStore(db, companyId: scope.companyId, engine: services.database.engine).trialBalance(community: community.id)
            }
            let currency = community.currency
            let debits = rows.reduce(Int64(0)) { $0 &+ $1.debits }
            let credits = rows.reduce(Int64(0)) { $0 &+ $1.credits }
            return try .json(
                TrialBalance(
                    communityId: community.id,
                    rows: rows.map {
                        TrialBalanceRow(
                            kind: $0.kind, debits: Money(minorUnits: $0.debits, currency: currency),
                            credits: Money(minorUnits: $0.credits, currency: currency))
                    },
                    debits: Money(minorUnits: debits, currency: currency),
                    credits: Money(minorUnits: credits, currency: currency), balanced: debits == credits))
        }

        api.on(
            .get, "/api/v1/communities/:id/ledger/head",
            summary: "The community's journal head (sequence and hash), to anchor elsewhere", tag: "Ledger",
            permission: .manageFinance, response: "LedgerHead"
        ) { _, context in
            let scope = try context.scope(for: .manageFinance)
            let community = try await requireCommunity(context, scope: scope, services: services)
            let head = try await services.database.read { db in
                try await LedgerStore(db, companyId: scope.companyId, engine: services.database.engine).head(community: community.id)
            }
            return try .json(Head(communityId: head.communityId, sequence: head.sequence, hash: head.hash))
        }

        api.on(
            .put, "/api/v1/communities/:id/ledger/policies/:purpose",
            summary: "Set the emergency credit wallets of this purpose may use below zero", tag: "Ledger",
            permission: .manageFinance, request: "LedgerPolicy", response: "LedgerPolicy"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let community = try await requireCommunity(context, scope: scope, services: services)
            let purpose = try context.parameters.require("purpose")
            guard AccountKind.wallet.purposes?.contains(purpose) == true else {
                throw Problem.invalid("purpose", code: "invalid_value", "purpose must be a wallet purpose")
            }
            let input = try await ResourceRoutes.decodeBody(Policy.self, request, context)
            guard input.emergencyCredit.minorUnits >= 0 else {
                throw Problem.invalid("emergency_credit", code: "must_not_be_negative", "emergency_credit must be 0 or more")
            }
            try await services.database.transaction { db in
                try await LedgerStore(db, companyId: scope.companyId, engine: services.database.engine)
                    .setEmergencyCredit(community: community.id, purpose: purpose, amount: input.emergencyCredit.minorUnits)
            }
            return try .json(input)
        }
    }
}
