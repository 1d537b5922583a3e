import CourtyardDomain
import CourtyardStorage
import Foundation

extension PaymentService {
    /// Records a refund request; an auto-approved refund to an online channel is sent at once.
    public func requestRefund(_ request: Refunds.Request, rules: RefundRules, actor: String, scope: TenantScope) async throws -> Refund {
        let now = clock.now()
        let engine = database.engine
        let refund = try await database.transaction { db in
            try await Refunds(db, companyId: scope.companyId, engine: engine).request(
                request, rules: rules, actor: actor, scope: scope, ports: ports, now: now)
        }
        return try await sendIfDue(refund, scope: scope)
    }

    /// Finance approves (and the refund is sent) or rejects.
    public func decideRefund(_ id: String, approve: Bool, reason: String, actor: String, scope: TenantScope) async throws -> Refund {
        let now = clock.now()
        let engine = database.engine
        let refund = try await database.transaction { db in
            try await Refunds(db, companyId: scope.companyId, engine: engine).decide(
                id, approve: approve, reason: reason, actor: actor, scope: scope, ports: ports, now: now)
        }
        return try await sendIfDue(refund, scope: scope)
    }

    /// Sends a failed refund again.
    public func retryRefund(_ id: String, scope: TenantScope) async throws -> Refund {
        let engine = database.engine
        guard
            let refund = try await database.read({ db in
                try await Refunds(db, companyId: scope.companyId, engine: engine).refund(id: id, scope: scope)
            })
        else { throw PaymentError(.notFound, code: "not_found", field: "refund_id", "no refund \(id)") }
        guard refund.state == .failed else {
            throw PaymentError(.conflict, code: "refund_state", field: "refund_id", "only failed refunds are retried")
        }
        return try await sendIfDue(refund, scope: scope, retry: true)
    }

    /// An approved refund to WeChat Pay or Alipay goes out through the channel (outside any transaction); its answer is
    /// recorded, and the payout posted when the channel reports it settled.
    func sendIfDue(_ refund: Refund, scope: TenantScope, retry: Bool = false) async throws -> Refund {
        guard refund.state == .approved || (retry && refund.state == .failed), refund.destination == .originalChannel,
            let paymentId = refund.paymentId
        else { return refund }
        let engine = database.engine
        guard
            let payment = try await database.read({ db in
                try await PaymentStore(db, companyId: scope.companyId, engine: engine).payment(id: paymentId)
            }),
            let channel = try onlineChannel(payment.channel, companyId: scope.companyId)
        else { return refund }
        let answer = await Self.send(
            ChannelRefund(
                outRefundNo: "RF" + refund.id.replacingOccurrences(of: "-", with: ""),
                channelTransactionId: payment.channelTransactionId, amount: refund.amount.minorUnits,
                total: payment.amount, reason: refund.reason), through: channel)
        let now = clock.now()
        return try await database.transaction { db in
            try await Refunds(db, companyId: scope.companyId, engine: engine).channelAnswered(refund.id, result: answer, scope: scope, now: now)
        }
    }

    static func send(_ refund: ChannelRefund, through channel: any OnlineChannel) async -> Result<ChannelRefundResult, PaymentError> {
        do {
            return .success(try await channel.refund(refund))
        } catch {
            return .failure(error)
        }
    }
}
