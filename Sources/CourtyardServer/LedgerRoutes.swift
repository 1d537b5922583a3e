import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import Hummingbird

extension LedgerError {
    /// The HTTP status of a refused ledger operation.
    var status: HTTPResponse.Status {
        switch self {
        case .idempotencyConflict, .insufficientBalance, .holdNotPending, .holdExpired: return .conflict
        case .unknownHold: return .notFound
        default: return .unprocessableContent
        }
    }

    var message: String {
        switch self {
        case .invalidAmount: return "amount must be greater than 0"
        case .sameAccount: return "debit and credit must be different accounts"
        case .crossCommunity: return "debit and credit must be in the same community"
        case .currencyMismatch: return "the currency differs from the community's"
        case .invalidAccount(let detail): return detail
        case .unknownAccount(let id): return "account \(id) does not exist in your company"
        case .invalidTransferId: return "id must be 1 to 128 characters without control characters"
        case .invalidField(let field): return "\(field) is invalid"
        case .overflow: return "the amount would overflow the account"
        case .insufficientBalance(_, let available, let requested):
            return "available \(FixedPoint.format(available, scale: 2)), requested \(FixedPoint.format(requested, scale: 2))"
        case .depositRestricted: return "deposits may only move to a refund or a documented deduction"
        case .maintenanceFundRestricted: return "the maintenance fund may only be collected, or used with an approval reference"
        case .idempotencyConflict(let id): return "transfer \(id) was already applied with different content"
        case .unknownHold(let id): return "no hold \(id)"
        case .holdNotPending(let id): return "hold \(id) is no longer pending"
        case .holdExpired(let id): return "hold \(id) has expired"
        case .holdAmountExceeded(_, let held, let requested): return "hold is \(held) fen, \(requested) requested"
        case .invalidExpiry: return "expires_at must be in the future"
        case .linkedTransferFailed(let index): return "linked transfer \(index) failed"
        }
    }

    var problem: Problem {
        Problem(status, code: code, title: "The ledger refused the operation", detail: message)
    }
}

/// Ledger routes: transfers, holds, balances, statements, trial balance and the chain head.
enum LedgerRoutes {
    struct AccountKeyInput: Codable, Sendable {
        var communityId: String
        var kind: AccountKind
        /// A house id, or `community`.
        var owner: String
        var purpose: String
        var key: AccountKey { AccountKey(communityId: communityId, kind: kind, owner: owner, purpose: purpose) }
    }

    struct TransferInput: Codable, Sendable {
        var id: String
        var debit: AccountKeyInput
        var credit: AccountKeyInput
        var amount: Money
        var code: TransferCode
        var reference: String?

        /// The ledger transfer this input asks for, on behalf of `actor`.
        func transfer(actor: String) -> Transfer {
            Transfer(
                id: id, debit: debit.key, credit: credit.key, amount: amount.minorUnits, currency: amount.currency.code,
                code: code, reference: reference, actor: actor)
        }
    }

    struct TransferBatch: Codable, Sendable {
        var transfers: [TransferInput]
        /// All or nothing.
        var linked: Bool?
    }

    /// A transfer's fields plus `expires_at`, in one flat JSON object.
    struct HoldInput: Codable, Sendable {
        var transfer: TransferInput
        var expiresAt: Date

        private enum CodingKeys: String, CodingKey { case expiresAt }

        init(transfer: TransferInput, expiresAt: Date) {
            self.transfer = transfer
            self.expiresAt = expiresAt
        }

        init(from decoder: any Decoder) throws {
            transfer = try TransferInput(from: decoder)
            expiresAt = try decoder.container(keyedBy: CodingKeys.self).decode(Date.self, forKey: .expiresAt)
        }

        func encode(to encoder: any Encoder) throws {
            try transfer.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(expiresAt, forKey: .expiresAt)
        }
    }

    struct HoldAction: Codable, Sendable {
        var id: String
        var amount: Money?
    }

    struct EntryView: Codable, Sendable {
        var sequence: Int64
        var transferId: String
        var type: String
        var code: String
        var debitAccountId: String
        var creditAccountId: String
        var amount: Money
        var pendingAmount: Money
        var reference: String?
        var actor: String
        var holdId: String?
        var recordedAt: Date
        var hash: String

        init(_ entry: JournalEntry) {
            let currency = Currency.supported[entry.currency] ?? .cny
            sequence = entry.sequence; transferId = entry.transferId; type = entry.type.rawValue; code = entry.code.rawValue
            debitAccountId = entry.debitAccountId; creditAccountId = entry.creditAccountId
            amount = Money(minorUnits: entry.amount, currency: currency)
            pendingAmount = Money(minorUnits: entry.pendingAmount, currency: currency)
            reference = entry.reference; actor = entry.actor; holdId = entry.holdId
            recordedAt = Date(epochMilliseconds: entry.recordedAt); hash = entry.hash
        }
    }

    struct ItemResult: Codable, Sendable {
        var index: Int
        var id: String
        /// `applied`, `replayed` or `rejected`.
        var status: String
        var code: String?
        var message: String?
        var entry: EntryView?
    }

    struct BatchResult: Codable, Sendable { var items: [ItemResult] }

    struct AccountView: Codable, Sendable {
        var id: String
        var communityId: String
        var kind: AccountKind
        var owner: String
        var purpose: String
        var balance: Money
        var available: Money
        var debitsPosted: Money
        var creditsPosted: Money
        var debitsPending: Money
        var creditsPending: Money
        var asOf: Date?
        var balanceAsOf: Money?
    }

    struct StatementLine: Codable, Sendable {
        var entry: EntryView
        /// `debit` or `credit`: the side this account was on.
        var side: String
        /// The account's posted balance after the entry.
        var balanceAfter: Money
    }

    struct Statement: Codable, Sendable {
        var account: AccountView
        var items: [StatementLine]
        var nextCursor: String?
    }

    struct TrialBalanceRow: Codable, Sendable { var kind: String; var debits: Money; var credits: Money }
    struct TrialBalance: Codable, Sendable {
        var communityId: String
        var rows: [TrialBalanceRow]
        var debits: Money
        var credits: Money
        var balanced: Bool
    }

    struct Head: Codable, Sendable { var communityId: String; var sequence: Int64; var hash: String }
    struct Policy: Codable, Sendable { var emergencyCredit: Money }

    /// The examples the ledger's schemas share: a wallet, the cash clearing account, a top-up and its entry.
    static func examples() -> (key: AccountKeyInput, cash: AccountKeyInput, transfer: TransferInput, entry: EntryView) {
        let key = AccountKeyInput(communityId: Example.community, kind: .wallet, owner: Example.house, purpose: "electricity")
        let cash = AccountKeyInput(communityId: Example.community, kind: .clearing, owner: "community", purpose: "cash")
        let transfer = TransferInput(
            id: "topup-20261122-0001", debit: cash, credit: key, amount: Money(minorUnits: 10_000),
            code: .topUp, reference: "receipt 88")
        let exampleEntry = EntryView(
            JournalEntry(
                companyId: Example.company, communityId: Example.community, sequence: 1, transferId: transfer.id, type: .post,
                debitAccountId: cash.key.id, creditAccountId: key.key.id, amount: 10_000, pendingAmount: 0, currency: "CNY",
                code: .topUp, reference: "receipt 88", actor: Example.person, holdId: nil, expiresAt: nil, recordedAt: 1_790_000_000_000,
                contentDigest: "", debitBalanceAfter: 10_000, creditBalanceAfter: 10_000, previousHash: JournalEntry.genesisHash,
                hash: JournalEntry.genesisHash))
        return (key, cash, transfer, exampleEntry)
    }

    static func register(on api: DocumentedRouter, services: ServerServices) {
        let (key, cash, transfer, exampleEntry) = examples()
        api.schema("TransferBatch", example: TransferBatch(transfers: [transfer], linked: false), required: ["transfers"])
        api.schema(
            "LedgerBatchResult",
            example: BatchResult(items: [
                ItemResult(
                    index: 0, id: transfer.id, status: "applied",
                    code: nil, message: nil, entry: exampleEntry)
            ]))
        api.schema(
            "HoldInput",
            example: HoldInput(
                transfer: TransferInput(
                    id: "park-0001", debit: key, credit: cash,
                    amount: Money(minorUnits: 2_000), code: .deduction, reference: nil),
                expiresAt: Example.date),
            required: ["id", "debit", "credit", "amount", "code", "expires_at"])
        api.schema("HoldAction", example: HoldAction(id: "park-0001-post", amount: Money(minorUnits: 1_500)), required: ["id"])
        api.schema("LedgerEntry", example: exampleEntry)

        api.on(
            .post, "/api/v1/ledger/transfers",
            summary: "Apply transfers (each answered on its own; `linked` makes them all-or-nothing). Idempotent by id.",
            tag: "Ledger", permission: .manageFinance, request: "TransferBatch", response: "LedgerBatchResult"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let actor = try context.requirePrincipal().user.id
            let batch = try await ResourceRoutes.decodeBody(TransferBatch.self, request, context)
            guard !batch.transfers.isEmpty, batch.transfers.count <= 5_000 else {
                throw Problem.invalid("transfers", code: "out_of_range", "send 1 to 5000 transfers")
            }
            var items = [ItemResult?](repeating: nil, count: batch.transfers.count)
            var operations: [(Int, LedgerOperation)] = []
            for (index, input) in batch.transfers.enumerated() {
                if let refusal = refuseOutOfScope(scope, input.debit, input.credit) {
                    items[index] = ItemResult(index: index, id: input.id, status: "rejected", code: refusal.code, message: refusal.message)
                    continue
                }
                operations.append((index, .transfer(input.transfer(actor: actor))))
            }
            let linked = batch.linked ?? false
            if linked, let refused = items.compactMap({ $0 }).first {
                return try .json(
                    BatchResult(
                        items: batch.transfers.enumerated().map { index, input in
                            ItemResult(
                                index: index, id: input.id, status: "rejected", code: LedgerError.linkedTransferFailed(index: refused.index).code,
                                message: "linked transfer \(refused.index) was refused: \(refused.message ?? "")")
                        }))
            }
            let outcomes =
                operations.isEmpty
                ? []
                : try await services.ledger.submit(
                    companyId: scope.companyId, operations.map(\.1), linked: linked)
            for ((index, operation), outcome) in zip(operations, outcomes) {
                items[index] = item(index: index, id: operation.id, outcome)
            }
            return try .json(BatchResult(items: items.map { $0! }))
        }

        api.on(
            .post, "/api/v1/ledger/holds", summary: "Reserve money until expires_at (two-phase transfer)", tag: "Ledger",
            permission: .manageFinance, request: "HoldInput", response: "LedgerEntry", status: 201
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let actor = try context.requirePrincipal().user.id
            let input = try await ResourceRoutes.decodeBody(HoldInput.self, request, context)
            if let refusal = refuseOutOfScope(scope, input.transfer.debit, input.transfer.credit) { throw refusal.problem }
            let operation = LedgerOperation.hold(input.transfer.transfer(actor: actor), expiresAt: input.expiresAt.epochMilliseconds)
            return try await single(operation, scope: scope, services: services, created: true)
        }

        api.on(
            .post, "/api/v1/ledger/holds/:id/post", summary: "Post all or part of a pending hold; the rest is released",
            tag: "Ledger", permission: .manageFinance, request: "HoldAction", response: "LedgerEntry"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let actor = try context.requirePrincipal().user.id
            let holdId = try context.parameters.require("id")
            let input = try await ResourceRoutes.decodeBody(HoldAction.self, request, context)
            return try await single(
                .postHold(id: input.id, holdId: holdId, amount: input.amount?.minorUnits, actor: actor),
                scope: scope, services: services, created: false)
        }

        api.on(
            .post, "/api/v1/ledger/holds/:id/void", summary: "Release a pending hold", tag: "Ledger",
            permission: .manageFinance, request: "HoldAction", response: "LedgerEntry"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let actor = try context.requirePrincipal().user.id
            let holdId = try context.parameters.require("id")
            let input = try await ResourceRoutes.decodeBody(HoldAction.self, request, context)
            return try await single(.voidHold(id: input.id, holdId: holdId, actor: actor), scope: scope, services: services, created: false)
        }
        registerAccounts(on: api, services: services)
    }

    static func refuseOutOfScope(_ scope: TenantScope, _ keys: AccountKeyInput...) -> LedgerError? {
        for key in keys where !scope.includes(communityId: key.communityId) {
            return .unknownAccount(key.key.id)
        }
        return nil
    }

    static func item(index: Int, id: String, _ outcome: LedgerWriter.Outcome) -> ItemResult {
        switch outcome {
        case .success(let result):
            return ItemResult(index: index, id: id, status: result.replayed ? "replayed" : "applied", entry: EntryView(result.entry))
        case .failure(let error):
            return ItemResult(index: index, id: id, status: "rejected", code: error.code, message: error.message)
        }
    }

    static func single(_ operation: LedgerOperation, scope: TenantScope, services: ServerServices, created: Bool) async throws -> Response {
        switch try await services.ledger.submit(companyId: scope.companyId, operation) {
        case .success(let result):
            return try .json(EntryView(result.entry), status: created && !result.replayed ? .created : .ok)
        case .failure(let error):
            throw error.problem
        }
    }

    static func requireCommunity(_ context: CourtyardRequestContext, scope: TenantScope, services: ServerServices) async throws -> Community {
        let id = try context.parameters.require("id")
        return try await services.database.read { db in try await ScopedStore(db, scope: scope).get(Community.self, id: id) }
    }

    static func money(_ fen: Int64, _ currency: String) -> Money {
        Money(minorUnits: fen, currency: Currency.supported[currency] ?? .cny)
    }

    static func accountView(_ account: Account) -> AccountView {
        AccountView(
            id: account.id, communityId: account.key.communityId, kind: account.key.kind, owner: account.key.owner,
            purpose: account.key.purpose, balance: money(account.balance, account.currency),
            available: money(account.available, account.currency), debitsPosted: money(account.debitsPosted, account.currency),
            creditsPosted: money(account.creditsPosted, account.currency),
            debitsPending: money(account.debitsPending, account.currency),
            creditsPending: money(account.creditsPending, account.currency), asOf: nil, balanceAsOf: nil)
    }
}
