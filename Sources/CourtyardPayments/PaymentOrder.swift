import CourtyardDomain
import Foundation

/// An order to pay (one or many bills, a wallet top-up, a deposit): what a channel is asked to collect, under the
/// `out_trade_no` the channel reports back.
///
/// The state machine is pure (``handle(_:)``): it says what a notification or a close request means for the order and
/// leaves the I/O to the caller.
public struct PaymentOrder: Codable, Sendable, Hashable {
    public enum Purpose: String, Codable, Sendable, CaseIterable {
        case bills
        case topUp = "top_up"
        case deposit
    }

    public enum State: String, Codable, Sendable, CaseIterable {
        case created, paid, closed, expired
    }

    /// Who pays, relative to the house.
    public enum PayerRelation: String, Codable, Sendable {
        /// The owner, resident or tenant of the house.
        case occupant
        /// A linked proxy payer (a child paying for an elderly parent's house).
        case proxy
        /// Front-desk staff on the payer's behalf.
        case staff
    }

    /// What the order pays for.
    public struct Items: Codable, Sendable, Hashable {
        /// Bills to settle, in the order chosen; empty for "oldest first".
        public var billIds: [String]?
        /// The wallet a top-up goes to.
        public var walletPurpose: String?
        /// The deposit kind (decoration, access_card, facility, other) and what must hold before it is released.
        public var depositKind: String?
        public var depositConditions: [DepositCondition]?
        public var description: String?

        public init(
            billIds: [String]? = nil, walletPurpose: String? = nil, depositKind: String? = nil,
            depositConditions: [DepositCondition]? = nil, description: String? = nil
        ) {
            self.billIds = billIds; self.walletPurpose = walletPurpose; self.depositKind = depositKind
            self.depositConditions = depositConditions; self.description = description
        }
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    public var houseId: String
    public var outTradeNo: String
    public var purpose: Purpose
    public var items: Items
    public var amount: Int64
    public var currency: String
    public var channel: String
    public var payerPersonId: String?
    public var payerRelation: PayerRelation
    public var state: State
    public var channelRequest: ChannelOrderRequest?
    public var expiresAt: Date
    public var paidAt: Date?
    public var paymentId: String?
    public var requestDigest: String
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, houseId: String, outTradeNo: String, purpose: Purpose, items: Items,
        amount: Int64, currency: String, channel: String, payerPersonId: String?, payerRelation: PayerRelation, state: State,
        channelRequest: ChannelOrderRequest?, expiresAt: Date, paidAt: Date?, paymentId: String?, requestDigest: String,
        createdBy: String, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.houseId = houseId; self.outTradeNo = outTradeNo
        self.purpose = purpose; self.items = items; self.amount = amount; self.currency = currency; self.channel = channel
        self.payerPersonId = payerPersonId; self.payerRelation = payerRelation; self.state = state; self.channelRequest = channelRequest
        self.expiresAt = expiresAt; self.paidAt = paidAt; self.paymentId = paymentId; self.requestDigest = requestDigest
        self.createdBy = createdBy; self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    /// Something that happens to an order.
    public enum Event: Sendable, Hashable {
        /// The channel reports money received for this order.
        case paid(channelTransactionId: String, amount: Int64, at: Date)
        /// Staff or the payer cancel it before paying.
        case close(at: Date)
        /// Its time ran out.
        case expire(at: Date)
    }

    /// What the caller must do about an event.
    public enum Action: Sendable, Hashable {
        /// Record the payment and allocate it (the order becomes paid).
        case applyPayment
        /// The same transaction was applied before: answer success, change nothing.
        case alreadyApplied
        /// Keep the notification for review: money arrived that cannot be applied automatically.
        case holdForReview(outcome: String, detail: String)
        /// The order's state changes with no money involved.
        case changeState(State)
        /// The event is refused (closing a paid order).
        case refuse(code: String, message: String)
    }

    /// The consequence of `event`, and the order as it will be if the caller carries it out.
    public func handle(_ event: Event, appliedTransactionId: String? = nil) -> (action: Action, order: PaymentOrder) {
        var next = self
        switch (state, event) {
        case (.created, .paid(_, let amount, let at)):
            guard amount == self.amount else {
                return (
                    .holdForReview(outcome: "amount_mismatch", detail: "the channel reports \(amount) fen for an order of \(self.amount) fen"), self
                )
            }
            next.state = .paid
            next.paidAt = at
            next.updatedAt = at
            return (.applyPayment, next)
        case (.paid, .paid(let transaction, let amount, _)):
            if transaction == appliedTransactionId {
                return amount == self.amount
                    ? (.alreadyApplied, self)
                    : (.holdForReview(outcome: "amount_mismatch", detail: "a replay reports \(amount) fen, the payment was \(self.amount) fen"), self)
            }
            return (.holdForReview(outcome: "order_paid_otherwise", detail: "the order was already paid by another transaction"), self)
        case (.closed, .paid), (.expired, .paid):
            return (.holdForReview(outcome: "order_closed", detail: "money arrived for an order that is \(state.rawValue)"), self)
        case (.created, .close(let at)):
            next.state = .closed
            next.updatedAt = at
            return (.changeState(.closed), next)
        case (.created, .expire(let at)):
            guard at >= expiresAt else { return (.refuse(code: "order_not_expired", message: "the order expires at \(expiresAt)"), self) }
            next.state = .expired
            next.updatedAt = at
            return (.changeState(.expired), next)
        case (.closed, .close), (.expired, .expire), (.closed, .expire), (.expired, .close):
            return (.changeState(state), self)
        case (.paid, .close), (.paid, .expire):
            return (.refuse(code: "order_paid", message: "a paid order cannot be closed; ask for a refund"), self)
        }
    }
}

/// What must hold before a deposit is released.
public struct DepositCondition: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// Staff recorded that the inspection (装修验收) passed.
        case inspectionPassed = "inspection_passed"
        /// The occupancy of the payer has ended (move-out).
        case moveOut = "move_out"
        /// Not before this local date.
        case dateReached = "date_reached"
    }

    public var kind: Kind
    /// For `date_reached`.
    public var on: LocalDate?

    public init(kind: Kind, on: LocalDate? = nil) {
        self.kind = kind
        self.on = on
    }
}
