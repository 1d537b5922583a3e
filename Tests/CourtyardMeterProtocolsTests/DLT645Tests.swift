import CourtyardMeterProtocols
import Testing

/// DL/T 645-2007 frames. Every positive fixture is a capture published in a public implementation;
/// its source is named next to it. The expected fields follow from the standard (+0x33 offset,
/// DI0 first, BCD low byte first), not from the implementation's own output.
@Suite struct DLT645Tests {
    func decode(_ hex: String) throws -> DLT645.Message { try DLT645.decode(try Hex.bytes(hex)) }

    // Source: a public VB6 meter test tool (its default text box "Text3"), found by code search for "68 11 04 33 33 34 33".
    static let broadcastRead = "FE FE FE FE 68 AA AA AA AA AA AA 68 11 04 33 33 34 33 AE 16"

    @Test func aBroadcastReadOfForwardActiveEnergyDecodesWithItsPreambleSkipped() throws {
        let message = try decode(Self.broadcastRead)
        #expect(message == .readRequest(address: .wildcard, identifier: .forwardActiveEnergy))
    }

    @Test func readRequestsAreBuiltByteForByteAsMetersExpectThem() throws {
        #expect(DLT645.readRequest(address: .wildcard, identifier: .forwardActiveEnergy) == (try Hex.bytes(Self.broadcastRead)))
        // Source: a public Python script reading a meter by address 201500000016 ("Total energia").
        #expect(
            DLT645.readRequest(address: try DLT645.Address("201500000016"), identifier: .forwardActiveEnergy, preamble: 0)
                == (try Hex.bytes("68 16 00 00 00 15 20 68 11 04 33 33 34 33 FD 16")))
    }

    @Test func aNormalReplyCarriesTheForwardActiveEnergyInKilowattHours() throws {
        // Source: a public Java utility (DLT645FrameUtils.main, comment "000000.04KW/h").
        guard
            case .readReply(let address, let identifier, let values, _, let followUp) =
                try decode("68 37 03 00 92 81 39 68 91 08 33 33 34 33 37 33 33 33 8C 16")
        else { Issue.record("not a reply"); return }
        #expect(address.description == "398192000337")
        #expect(identifier == .forwardActiveEnergy)
        #expect(followUp == false)
        #expect(values?.first?.value?.text == "0.04")
        #expect(values?.first?.value?.milliUnits == 40)
        #expect(values?.first?.register == "energy_total")
    }

    @Test func combinedActiveEnergyIsADifferentRegisterFromForwardActiveEnergy() throws {
        // Source: a public Go gateway's test capture (a rawFrame comment in its DL/T 645 reader).
        guard
            case .readReply(let address, let identifier, let values, _, _) =
                try decode("FE FE FE FE 68 60 07 92 04 00 91 68 91 08 33 33 33 33 97 35 A8 33 6A 16")
        else { Issue.record("not a reply"); return }
        #expect(address.description == "910004920760")
        #expect(identifier == .combinedActiveEnergy)
        #expect(values?.first?.value?.text == "7502.64")
        #expect(values?.first?.register == "energy_combined")
    }

    @Test func anAbnormalReplyNamesTheBitsOfItsErrorWord() throws {
        // Source: the same Go gateway: the meter refused with error word 04 (password/unauthorized).
        #expect(
            try decode("FE FE FE FE 68 60 07 92 04 00 91 68 D1 01 37 67 16")
                == .readRefused(address: try DLT645.Address("910004920760"), error: DLT645.ErrorWord(raw: 0x04)))
        #expect(DLT645.ErrorWord(raw: 0x04).reasons == ["unauthorized"])
        // Source: a public C# meter client's test ExceptionResponse_ThrowsWithErrorWord_NoRetry (error word 02: no data).
        guard case .readRefused(let address, let error) = try decode("68 12 90 78 56 34 12 68 D1 01 35 8D 16") else {
            Issue.record("not refused"); return
        }
        #expect(address.description == "123456789012")
        #expect(error.reasons == ["no_data"])
    }

    // Source: a public Java prepaid-meter utility (packDisconnect's doc comment "645拉闸报文例子").
    static let tripFrame = "68 11 11 11 11 11 11 68 1C 10 33 33 33 33 33 33 33 33 4D 33 57 74 48 45 38 4B 55 16"

    @Test func aTripCommandDecodesWithItsPasswordOperatorAndValidUntilTime() throws {
        guard case .remoteControl(let address, let request) = try decode(Self.tripFrame) else { Issue.record("not 1C"); return }
        #expect(address.description == "111111111111")
        #expect(request.command == .trip)
        #expect(request.password == "00000000")
        #expect(request.operatorCode == "00000000")
        #expect(request.validUntil?.description == "2018-05-12 15:41:24")
    }

    @Test func aTripCommandIsBuiltIdenticallyAndRefusedWhenAlreadyExpired() throws {
        let until = try #require(MeterClock(year: 2018, month: 5, day: 12, hour: 15, minute: 41, second: 24))
        let before = try #require(MeterClock(year: 2018, month: 5, day: 12, hour: 15, minute: 0, second: 0))
        let built = try DLT645.remoteControl(
            address: try DLT645.Address("111111111111"), command: .trip, validUntil: until, now: before,
            preamble: 0)
        #expect(built == (try Hex.bytes(Self.tripFrame)))
        #expect(throws: FrameError.self) {
            try DLT645.remoteControl(address: .wildcard, command: .close, validUntil: before, now: until)
        }
    }

    @Test func closeCommandsAndTheirAcknowledgementRoundTrip() throws {
        let until = try #require(MeterClock(year: 2026, month: 11, day: 23, hour: 0, minute: 0, second: 0))
        let now = try #require(MeterClock(year: 2026, month: 11, day: 22, hour: 8, minute: 0, second: 0))
        let frame = try DLT645.remoteControl(
            address: try DLT645.Address("000000000001"), command: .closePermitted, validUntil: until, now: now,
            password: "02123456", operatorCode: "00000007")
        guard case .remoteControl(_, let request) = try DLT645.decode(frame) else { Issue.record("not 1C"); return }
        #expect(request.command == .closePermitted)
        #expect(request.password == "02123456")
        #expect(request.operatorCode == "00000007")
        #expect(request.validUntil == until)
        let done = DLT645.Frame(address: try DLT645.Address("000000000001"), control: DLT645.Control(raw: 0x9C), data: []).encoded()
        #expect(try DLT645.decode(done) == .remoteControlDone(address: try DLT645.Address("000000000001")))
    }

    @Test func aCaptureWithAWrongChecksumIsRefusedWithBothSums() throws {
        // Source: a public Python script's "Frecuencia" frame, whose checksum byte does not match its bytes.
        #expect(throws: FrameError.badChecksum(expected: 0x80, found: 0x85)) {
            try DLT645.decode(try Hex.bytes("68 16 00 00 00 15 20 68 11 04 35 33 B3 35 85 16"))
        }
    }

    @Test func everyPrefixOfAFrameIsTruncatedAndExtraBytesAreRefused() throws {
        let bytes = try Hex.bytes(Self.tripFrame)
        for length in 0..<bytes.count {
            #expect(throws: FrameError.self) { try DLT645.decodeFrame(Array(bytes[0..<length])) }
            do { _ = try DLT645.decodeFrame(Array(bytes[0..<length])) } catch {
                guard case .truncated = error else { Issue.record("prefix \(length): \(error)"); continue }
            }
        }
        #expect(throws: FrameError.trailingBytes(count: 1)) { try DLT645.decodeFrame(bytes + [0x00]) }
        #expect(throws: FrameError.missingStart(offset: 0)) { try DLT645.decodeFrame([0x00] + bytes) }
    }

    @Test func aBlockReadYieldsTheTotalAndEveryTariff() throws {
        // Built here: total 1234.56, then sharp, peak, flat, valley.
        let payload: [UInt8] = [
            0x56, 0x34, 0x12, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x56, 0x28, 0x12, 0x00,
        ]
        let frame = DLT645.Frame(
            address: .wildcard, control: DLT645.Control(raw: 0x91), data: DLT645.DataIdentifier.forwardActiveEnergyBlock.wire + payload)
        guard case .readReply(_, _, let values, _, _) = try DLT645.decode(frame.encoded()) else { Issue.record("not a reply"); return }
        #expect(values?.map(\.register) == ["energy_total", "tou_sharp", "tou_peak", "tou_flat", "tou_valley"])
        #expect(values?.map { $0.value?.text } == ["1234.56", "1.00", "2.00", "3.00", "1228.56"])
    }

    @Test func signedPowerUsesTheTopBitOfTheHighestByte() throws {
        let frame = DLT645.Frame(
            address: .wildcard, control: DLT645.Control(raw: 0x91),
            data: DLT645.DataIdentifier.totalActivePower.wire + [0x34, 0x12, 0x80])
        guard case .readReply(_, _, let values, _, _) = try DLT645.decode(frame.encoded()) else { Issue.record("not a reply"); return }
        #expect(values?.first?.value?.text == "-0.1234")
    }

    @Test func aPayloadThatIsNotBCDIsNamed() throws {
        let frame = DLT645.Frame(
            address: .wildcard, control: DLT645.Control(raw: 0x91), data: DLT645.DataIdentifier.forwardActiveEnergy.wire + [0xFA, 0, 0, 0])
        #expect(throws: FrameError.notBCD(field: "forward_active_energy")) { try DLT645.decode(frame.encoded()) }
    }
}
