/// The ledger's rules applied to an in-memory slice of accounts, holds and chain heads.
///
/// This is the one implementation of what a transfer does. The storage layer
/// loads the accounts a batch touches into a `LedgerState`, applies the batch,
/// and writes back ``newEntries`` and the changed rows; property tests run the
/// same code against a model; `ledger verify` replays the journal through it.
/// Every check happens before any mutation, so a refused operation leaves the
/// state exactly as it was.
public struct LedgerState: Sendable {
    public var companyId: String
    public var accounts: [String: Account] = [:]
    public var holds: [String: Hold] = [:]
    public var heads: [String: ChainHead] = [:]
    /// Entries applied before this state was loaded, by operation id: the idempotency record from storage.
    public var appliedEntries: [String: JournalEntry] = [:]
    /// Entries created in this batch, by operation id: their position in ``newEntries`` (one copy of each entry).
    private var createdIndex: [String: Int] = [:]
    /// Emergency credit (fen a wallet may go below zero) by community and purpose (see ``emergencyKey(_:_:)``).
    public var emergencyCredit: [PolicyKey: Int64] = [:]
    /// The currency of each community (CNY when absent).
    public var communityCurrency: [String: String] = [:]
    /// Accounts that may not be used: their owner (house or community) does not exist in this company.
    public var unavailableAccounts: Set<String> = []

    /// Entries created since the state was loaded, in order.
    public private(set) var newEntries: [JournalEntry] = []
    public private(set) var changedAccounts: Set<String> = []
    public private(set) var changedHolds: Set<String> = []

    public init(companyId: String) {
        self.companyId = companyId
    }

    /// The chain heads this batch's entries moved, once each.
    public var movedHeads: [ChainHead] {
        var communities: [String] = []
        // Few communities per batch, and entries of one community come in runs: a short list beats hashing every id.
        for entry in newEntries where communities.last != entry.communityId && !communities.contains(entry.communityId) {
            communities.append(entry.communityId)
        }
        return communities.compactMap { heads[$0] }
    }

    /// What applying an operation did.
    public struct Outcome: Hashable, Sendable {
        public var entry: JournalEntry
        /// `true` when the operation had been applied before and this is the original result.
        public var replayed: Bool
    }

    /// A community and a wallet purpose: what a wallet policy applies to.
    public struct PolicyKey: Hashable, Sendable {
        public var communityId: String
        public var purpose: String
    }

    public static func emergencyKey(_ communityId: String, _ purpose: String) -> PolicyKey {
        PolicyKey(communityId: communityId, purpose: purpose)
    }

    /// Forgets what the last batch did (new entries, changed rows, idempotency records, holds, unavailable accounts),
    /// keeping accounts, heads and policies: a writer that is the only one writing keeps one state across batches.
    public mutating func startBatch() {
        newEntries.removeAll(keepingCapacity: true)
        changedAccounts.removeAll(keepingCapacity: true)
        changedHolds.removeAll(keepingCapacity: true)
        appliedEntries.removeAll(keepingCapacity: true)
        createdIndex.removeAll(keepingCapacity: true)
        holds.removeAll()
        unavailableAccounts.removeAll()
    }

    /// Applies one operation at `now` (epoch ms); `digest` is its ``LedgerOperation/contentDigest`` if already computed.
    public mutating func apply(_ operation: LedgerOperation, at now: Int64, digest: String? = nil) -> Result<Outcome, LedgerError> {
        do {
            return .success(try applyThrowing(operation, at: now, digest: digest))
        } catch {
            return .failure(error)
        }
    }

    /// Applies a linked group: every operation, or none.
    ///
    /// The group is applied in place, after noting the rows it may change
    /// (its accounts, chain heads and holds, a handful); if an operation is
    /// refused those rows are put back and its entries taken off. (A scratch
    /// state per group, merged back on success, cost two dictionaries and a
    /// copy of every entry per group: a bill run posts a million groups.)
    public mutating func apply(
        linked operations: [LedgerOperation], at now: Int64,
        digests: [String]? = nil
    ) -> Result<[Outcome], LedgerError> {
        var undo = Undo(entries: newEntries.count)
        for operation in operations {
            switch operation {
            case .transfer(let transfer):
                undo.note(transfer.debit, transfer.credit, in: self)
            case .hold(let transfer, _):
                undo.note(transfer.debit, transfer.credit, in: self)
                undo.noteHold(operation.id, in: self)
            case .postHold(_, let holdId, _, _), .voidHold(_, let holdId, _), .expireHold(let holdId):
                undo.noteHold(holdId, in: self)
                if let hold = holds[holdId] { undo.note(hold.debit, hold.credit, in: self) }
            }
        }
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(operations.count)
        for (index, operation) in operations.enumerated() {
            do {
                outcomes.append(try applyThrowing(operation, at: now, digest: digests?[index]))
            } catch {
                roll(back: undo)
                return .failure(error)
            }
        }
        return .success(outcomes)
    }

    /// What a linked group may change, as it was before the group: enough to put the state back if the group is refused.
    struct Undo {
        var entries: Int
        var accounts: [(id: String, account: Account?, changed: Bool)] = []
        var heads: [(community: String, head: ChainHead?)] = []
        var holds: [(id: String, hold: Hold?, changed: Bool)] = []

        mutating func note(_ debit: AccountKey, _ credit: AccountKey, in state: LedgerState) {
            for key in [debit, credit] where !accounts.contains(where: { $0.id == key.id }) {
                accounts.append((key.id, state.accounts[key.id], state.changedAccounts.contains(key.id)))
            }
            for community in [debit.communityId, credit.communityId] where !heads.contains(where: { $0.community == community }) {
                heads.append((community, state.heads[community]))
            }
        }

        mutating func noteHold(_ id: String, in state: LedgerState) {
            guard !holds.contains(where: { $0.id == id }) else { return }
            holds.append((id, state.holds[id], state.changedHolds.contains(id)))
        }
    }

    /// Puts back what `undo` noted and takes off the entries recorded since.
    mutating func roll(back undo: Undo) {
        for (id, account, changed) in undo.accounts {
            accounts[id] = account
            if !changed { changedAccounts.remove(id) }
        }
        for (community, head) in undo.heads { heads[community] = head }
        for (id, hold, changed) in undo.holds {
            holds[id] = hold
            if !changed { changedHolds.remove(id) }
        }
        for entry in newEntries[undo.entries...] { createdIndex[entry.transferId] = nil }
        newEntries.removeSubrange(undo.entries...)
    }

    mutating func applyThrowing(_ operation: LedgerOperation, at now: Int64, digest given: String? = nil) throws(LedgerError) -> Outcome {
        let id = operation.id
        guard Self.isValidId(id) else { throw .invalidTransferId }
        let digest = given ?? operation.contentDigest
        if let existing = applied(id) {
            guard existing.contentDigest == digest else { throw .idempotencyConflict(transferId: id) }
            return Outcome(entry: existing, replayed: true)
        }
        switch operation {
        case .transfer(let transfer):
            let (storedDebit, storedCredit) = (accounts[transfer.debit.id], accounts[transfer.credit.id])
            try validate(transfer, debit: storedDebit, credit: storedCredit)
            var debit = storedDebit ?? Account(key: transfer.debit, currency: transfer.currency)
            var credit = storedCredit ?? Account(key: transfer.credit, currency: transfer.currency)
            try checkRules(debit: debit, credit: credit, transfer: transfer, amount: transfer.amount)
            debit.debitsPosted = try add(debit.debitsPosted, transfer.amount)
            credit.creditsPosted = try add(credit.creditsPosted, transfer.amount)
            return record(
                type: .post, id: id, digest: digest, transfer: transfer, debit: debit, credit: credit,
                amount: transfer.amount, pending: 0, holdId: nil, expiresAt: nil, now: now)
        case .hold(let transfer, let expiresAt):
            let (storedDebit, storedCredit) = (accounts[transfer.debit.id], accounts[transfer.credit.id])
            try validate(transfer, debit: storedDebit, credit: storedCredit)
            guard expiresAt > now else { throw .invalidExpiry }
            var debit = storedDebit ?? Account(key: transfer.debit, currency: transfer.currency)
            var credit = storedCredit ?? Account(key: transfer.credit, currency: transfer.currency)
            try checkRules(debit: debit, credit: credit, transfer: transfer, amount: transfer.amount)
            debit.debitsPending = try add(debit.debitsPending, transfer.amount)
            credit.creditsPending = try add(credit.creditsPending, transfer.amount)
            holds[id] = Hold(
                id: id, communityId: transfer.debit.communityId, debit: transfer.debit, credit: transfer.credit,
                amount: transfer.amount, currency: transfer.currency, code: transfer.code, expiresAt: expiresAt,
                status: .pending)
            changedHolds.insert(id)
            return record(
                type: .hold, id: id, digest: digest, transfer: transfer, debit: debit, credit: credit,
                amount: 0, pending: transfer.amount, holdId: id, expiresAt: expiresAt, now: now)
        case .postHold(_, let holdId, let requested, let actor):
            try checkActor(actor)
            var hold = try pendingHold(holdId)
            guard now < hold.expiresAt else { throw .holdExpired(holdId) }
            let amount = requested ?? hold.amount
            guard amount > 0 else { throw .invalidAmount }
            guard amount <= hold.amount else { throw .holdAmountExceeded(holdId: holdId, held: hold.amount, requested: amount) }
            var debit = try existing(hold.debit)
            var credit = try existing(hold.credit)
            debit.debitsPending -= hold.amount
            credit.creditsPending -= hold.amount
            debit.debitsPosted = try add(debit.debitsPosted, amount)
            credit.creditsPosted = try add(credit.creditsPosted, amount)
            hold.status = .posted
            holds[holdId] = hold
            changedHolds.insert(holdId)
            let transfer = Transfer(
                id: id, debit: hold.debit, credit: hold.credit, amount: amount, currency: hold.currency,
                code: hold.code, reference: holdId, actor: actor)
            return record(
                type: .holdPost, id: id, digest: digest, transfer: transfer, debit: debit, credit: credit,
                amount: amount, pending: hold.amount, holdId: holdId, expiresAt: nil, now: now)
        case .voidHold(_, let holdId, let actor):
            try checkActor(actor)
            return try release(holdId: holdId, as: .holdVoid, status: .voided, id: id, digest: digest, actor: actor, now: now)
        case .expireHold(let holdId):
            let hold = try pendingHold(holdId)
            guard now >= hold.expiresAt else { throw .holdNotPending(holdId) }
            return try release(holdId: holdId, as: .holdExpire, status: .expired, id: id, digest: digest, actor: "system:ledger", now: now)
        }
    }

    /// Ids of pending holds whose expiry is at or before `now`, oldest first.
    public func expiredHolds(at now: Int64) -> [String] {
        holds.values.filter { $0.status == .pending && $0.expiresAt <= now }.sorted { ($0.expiresAt, $0.id) < ($1.expiresAt, $1.id) }.map(\.id)
    }

    /// The entry an operation id already produced, in this batch or before it.
    func applied(_ id: String) -> JournalEntry? {
        if let index = createdIndex[id] { return newEntries[index] }
        return appliedEntries[id]
    }

    // MARK: Rules

    /// 1 to 128 characters, no control characters. Printable ASCII (nearly every id) is checked on bytes alone.
    static func isValidId(_ id: String) -> Bool {
        let utf8 = id.utf8
        if !utf8.isEmpty, utf8.count <= 128, utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return true }
        return !id.isEmpty && id.count <= 128 && !id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
    }

    /// At most `limit` characters (checked on bytes first: a string of at most `limit` bytes has at most `limit` characters).
    static func fits(_ text: String, _ limit: Int) -> Bool {
        text.utf8.count <= limit || text.count <= limit
    }

    /// Checks a transfer against its accounts as stored (`nil`: not opened yet).
    func validate(_ transfer: Transfer, debit: Account?, credit: Account?) throws(LedgerError) {
        guard transfer.amount > 0 else { throw .invalidAmount }
        guard transfer.debit != transfer.credit else { throw .sameAccount }
        guard transfer.debit.communityId == transfer.credit.communityId else { throw .crossCommunity }
        // A stored account was checked when it opened; only a new one needs its key checked and its owner known.
        if debit == nil, let problem = transfer.debit.problem { throw problem }
        if credit == nil, let problem = transfer.credit.problem { throw problem }
        if debit == nil, unavailableAccounts.contains(transfer.debit.id) { throw .unknownAccount(transfer.debit.id) }
        if credit == nil, unavailableAccounts.contains(transfer.credit.id) { throw .unknownAccount(transfer.credit.id) }
        let expected = communityCurrency[transfer.debit.communityId] ?? "CNY"
        guard transfer.currency == expected else { throw .currencyMismatch }
        if let debit, debit.currency != transfer.currency { throw .currencyMismatch }
        if let credit, credit.currency != transfer.currency { throw .currencyMismatch }
        if let reference = transfer.reference, !Self.fits(reference, 128) || reference.isEmpty { throw .invalidField("reference") }
        try checkActor(transfer.actor)
    }

    func checkActor(_ actor: String) throws(LedgerError) {
        guard !actor.isEmpty, Self.fits(actor, 128) else { throw .invalidField("actor") }
    }

    /// The balance rule of the debited account, and what may be debited from it.
    func checkRules(debit: Account, credit: Account, transfer: Transfer, amount: Int64) throws(LedgerError) {
        switch debit.key.kind {
        case .wallet:
            let floor = emergencyCredit[Self.emergencyKey(debit.key.communityId, debit.key.purpose)] ?? 0
            let (headroom, overflow) = debit.available.addingReportingOverflow(floor)
            guard !overflow, headroom >= amount else {
                throw .insufficientBalance(accountId: debit.id, available: debit.available, requested: amount)
            }
        case .deposit:
            let refund = transfer.code == .depositRefund && (credit.key.kind == .refundsPayable || credit.key.kind == .clearing)
            let deduction = transfer.code == .depositDeduction && credit.key.kind == .revenue && transfer.reference != nil
            guard refund || deduction else { throw .depositRestricted }
            guard debit.available >= amount else {
                throw .insufficientBalance(accountId: debit.id, available: debit.available, requested: amount)
            }
        case .maintenanceFund:
            guard transfer.code == .maintenanceFundUse, transfer.reference != nil else { throw .maintenanceFundRestricted }
            guard debit.available >= amount else {
                throw .insufficientBalance(accountId: debit.id, available: debit.available, requested: amount)
            }
        default:
            break
        }
        if credit.key.kind == .deposit, transfer.code != .depositReceived { throw .depositRestricted }
        if credit.key.kind == .maintenanceFund, transfer.code != .maintenanceFundCollection { throw .maintenanceFundRestricted }
    }

    // MARK: Helpers

    func existing(_ key: AccountKey) throws(LedgerError) -> Account {
        guard let account = accounts[key.id] else { throw .unknownAccount(key.id) }
        return account
    }

    func pendingHold(_ holdId: String) throws(LedgerError) -> Hold {
        guard let hold = holds[holdId] else { throw .unknownHold(holdId) }
        guard hold.status == .pending else { throw .holdNotPending(holdId) }
        return hold
    }

    func add(_ a: Int64, _ b: Int64) throws(LedgerError) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        if overflow { throw .overflow }
        return sum
    }

    mutating func release(
        holdId: String, as type: JournalEntry.EntryType, status: Hold.Status, id: String, digest: String,
        actor: String, now: Int64
    ) throws(LedgerError) -> Outcome {
        var hold = try pendingHold(holdId)
        var debit = try existing(hold.debit)
        var credit = try existing(hold.credit)
        debit.debitsPending -= hold.amount
        credit.creditsPending -= hold.amount
        hold.status = status
        holds[holdId] = hold
        changedHolds.insert(holdId)
        let transfer = Transfer(
            id: id, debit: hold.debit, credit: hold.credit, amount: hold.amount, currency: hold.currency,
            code: hold.code, reference: holdId, actor: actor)
        return record(
            type: type, id: id, digest: digest, transfer: transfer, debit: debit, credit: credit,
            amount: 0, pending: hold.amount, holdId: holdId, expiresAt: nil, now: now)
    }

    mutating func record(
        type: JournalEntry.EntryType, id: String, digest: String, transfer: Transfer, debit: Account,
        credit: Account, amount: Int64, pending: Int64, holdId: String?, expiresAt: Int64?,
        now: Int64
    ) -> Outcome {
        let community = transfer.debit.communityId
        let head = heads[community] ?? ChainHead(communityId: community, sequence: 0, hash: JournalEntry.genesisHash)
        var debit = debit
        var credit = credit
        let (debitPrevious, creditPrevious) = (debit.lastSequence, credit.lastSequence)
        debit.lastSequence = head.sequence + 1
        credit.lastSequence = head.sequence + 1
        accounts[debit.id] = debit
        accounts[credit.id] = credit
        changedAccounts.insert(debit.id)
        changedAccounts.insert(credit.id)
        var entry = JournalEntry(
            companyId: companyId, communityId: community, sequence: head.sequence + 1, transferId: id, type: type,
            debitAccountId: debit.id, creditAccountId: credit.id, amount: amount, pendingAmount: pending,
            currency: transfer.currency, code: transfer.code, reference: transfer.reference, actor: transfer.actor,
            holdId: holdId, expiresAt: expiresAt, recordedAt: now, contentDigest: digest,
            debitBalanceAfter: debit.balance, creditBalanceAfter: credit.balance, previousHash: head.hash, hash: "",
            debitPrevious: debitPrevious, creditPrevious: creditPrevious)
        entry.hash = entry.computedHash
        heads[community] = ChainHead(communityId: community, sequence: entry.sequence, hash: entry.hash)
        createdIndex[id] = newEntries.count
        newEntries.append(entry)
        return Outcome(entry: entry, replayed: false)
    }
}
