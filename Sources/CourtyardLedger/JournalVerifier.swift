/// Recomputes hash chains and balances from the journal and names the first place they diverge from what is stored.
///
/// This is what `courtyard ledger verify` runs. It trusts nothing but the
/// entries' own content: every hash is recomputed, sequences must be
/// contiguous, each entry's recorded balances must match the replayed ones,
/// and the replayed totals must equal the stored account rows.
public struct JournalVerifier: Sendable {
    /// The first thing found wrong.
    public struct Divergence: Hashable, Sendable, CustomStringConvertible {
        public enum Reason: String, Sendable {
            case sequenceGap = "sequence_gap"
            case brokenChain = "broken_chain"
            case hashMismatch = "hash_mismatch"
            case balanceMismatch = "balance_mismatch"
            case accountMismatch = "account_mismatch"
            case unknownAccount = "unknown_account"
            case headMismatch = "head_mismatch"
            case brokenAccountLink = "broken_account_link"
        }

        public var communityId: String
        public var reason: Reason
        /// The entry's transfer id, or the account id for account mismatches.
        public var id: String
        public var sequence: Int64?
        public var detail: String

        public var description: String {
            "\(reason.rawValue) in community \(communityId) at \(sequence.map { "sequence \($0), " } ?? "")id \(id): \(detail)"
        }
    }

    /// What a verification run found.
    public struct Report: Sendable {
        public var communities: Int = 0
        public var entries: Int = 0
        public var accounts: Int = 0
        public var divergence: Divergence?
        public var isValid: Bool { divergence == nil }
        public init() {}
    }

    /// The stored accounts, by id (their kinds decide the normal side of recorded balances).
    public var storedAccounts: [String: Account]
    /// The stored chain heads, by community.
    public var storedHeads: [String: ChainHead]

    public init(storedAccounts: [String: Account], storedHeads: [String: ChainHead]) {
        self.storedAccounts = storedAccounts
        self.storedHeads = storedHeads
    }

    /// Where the verification of a chain stands between pages: the hash and sequence the next entry must follow.
    public struct ChainPosition: Sendable {
        public var previousHash = JournalEntry.genesisHash
        public var expected: Int64 = 1
        public init() {}
    }

    /// Verifies one community's entries, given in stored order (by sequence); `replayed` accumulates the totals.
    public func verify(community communityId: String, entries: [JournalEntry], into replayed: inout [String: Account]) -> Divergence? {
        var position = ChainPosition()
        if let divergence = verify(community: communityId, page: entries, from: &position, into: &replayed) { return divergence }
        return verifyHead(community: communityId, at: position)
    }

    /// Verifies the next page of a community's chain, continuing from `position` (so a chain of any length is checked
    /// in bounded memory); call ``verifyHead(community:at:)`` after the last page.
    public func verify(
        community communityId: String, page entries: [JournalEntry], from position: inout ChainPosition,
        into replayed: inout [String: Account]
    ) -> Divergence? {
        var previousHash = position.previousHash
        var expected = position.expected
        defer {
            position.previousHash = previousHash
            position.expected = expected
        }
        for entry in entries {
            if entry.sequence != expected {
                return Divergence(
                    communityId: communityId, reason: .sequenceGap, id: entry.transferId, sequence: entry.sequence,
                    detail: "expected sequence \(expected); an entry before it is missing or out of order")
            }
            if entry.previousHash != previousHash {
                return Divergence(
                    communityId: communityId, reason: .brokenChain, id: entry.transferId, sequence: entry.sequence,
                    detail: "previous hash does not match the hash of entry \(expected - 1)")
            }
            if entry.computedHash != entry.hash {
                return Divergence(
                    communityId: communityId, reason: .hashMismatch, id: entry.transferId, sequence: entry.sequence,
                    detail: "the entry's content does not match its hash (edited after it was written)")
            }
            guard var debit = replayed[entry.debitAccountId] ?? storedAccounts[entry.debitAccountId].map(Self.zeroed),
                var credit = replayed[entry.creditAccountId] ?? storedAccounts[entry.creditAccountId].map(Self.zeroed)
            else {
                return Divergence(
                    communityId: communityId, reason: .unknownAccount, id: entry.transferId, sequence: entry.sequence,
                    detail: "the entry names an account that does not exist")
            }
            if entry.debitPrevious != debit.lastSequence || entry.creditPrevious != credit.lastSequence {
                return Divergence(
                    communityId: communityId, reason: .brokenAccountLink, id: entry.transferId, sequence: entry.sequence,
                    detail:
                        "the entry's links to its accounts' previous entries (\(entry.debitPrevious), \(entry.creditPrevious)) should be (\(debit.lastSequence), \(credit.lastSequence))"
                )
            }
            debit.lastSequence = entry.sequence
            credit.lastSequence = entry.sequence
            switch entry.type {
            case .post:
                debit.debitsPosted &+= entry.amount
                credit.creditsPosted &+= entry.amount
            case .hold:
                debit.debitsPending &+= entry.pendingAmount
                credit.creditsPending &+= entry.pendingAmount
            case .holdPost:
                debit.debitsPending &-= entry.pendingAmount
                credit.creditsPending &-= entry.pendingAmount
                debit.debitsPosted &+= entry.amount
                credit.creditsPosted &+= entry.amount
            case .holdVoid, .holdExpire:
                debit.debitsPending &-= entry.pendingAmount
                credit.creditsPending &-= entry.pendingAmount
            }
            if debit.balance != entry.debitBalanceAfter || credit.balance != entry.creditBalanceAfter {
                return Divergence(
                    communityId: communityId, reason: .balanceMismatch, id: entry.transferId, sequence: entry.sequence,
                    detail: "recorded balances differ from the replayed ones")
            }
            replayed[debit.id] = debit
            replayed[credit.id] = credit
            previousHash = entry.hash
            expected += 1
        }
        return nil
    }

    /// Checks the stored head against the end of a fully verified chain.
    public func verifyHead(community communityId: String, at position: ChainPosition) -> Divergence? {
        let (previousHash, expected) = (position.previousHash, position.expected)
        let head = storedHeads[communityId] ?? ChainHead(communityId: communityId, sequence: 0, hash: JournalEntry.genesisHash)
        if head.sequence != expected - 1 || head.hash != previousHash {
            return Divergence(
                communityId: communityId, reason: .headMismatch, id: communityId, sequence: head.sequence,
                detail:
                    "the stored head (sequence \(head.sequence)) does not match the last entry (sequence \(expected - 1)); entries were deleted or added"
            )
        }
        return nil
    }

    /// Compares replayed totals (and each account's last entry) with stored accounts.
    public func compareAccounts(_ replayed: [String: Account]) -> Divergence? {
        for id in storedAccounts.keys.sorted() {
            let stored = storedAccounts[id]!
            let recomputed = replayed[id] ?? Self.zeroed(stored)
            if stored != recomputed {
                return Divergence(
                    communityId: stored.key.communityId, reason: .accountMismatch, id: id, sequence: nil,
                    detail:
                        "stored totals (posted \(stored.debitsPosted)/\(stored.creditsPosted), pending \(stored.debitsPending)/\(stored.creditsPending), last entry \(stored.lastSequence)) differ from the journal (posted \(recomputed.debitsPosted)/\(recomputed.creditsPosted), pending \(recomputed.debitsPending)/\(recomputed.creditsPending), last entry \(recomputed.lastSequence))"
                )
            }
        }
        return nil
    }

    static func zeroed(_ account: Account) -> Account {
        Account(key: account.key, currency: account.currency)
    }
}
