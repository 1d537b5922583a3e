import CourtyardMQTT
import NIOCore
import PropertyBased
import Testing

/// MQTT 3.1.1 packets on the wire (OASIS MQTT Version 3.1.1, section 2 and 3).
@Suite struct MQTTPacketTests {
    func bytes(_ packet: MQTTPacket) -> [UInt8] {
        var buffer = ByteBuffer()
        packet.write(to: &buffer)
        return buffer.readBytes(length: buffer.readableBytes)!
    }

    func roundTrip(_ packet: MQTTPacket) throws -> MQTTPacket? {
        var buffer = ByteBuffer(bytes: bytes(packet))
        let decoded = try MQTTPacket.read(from: &buffer)
        #expect(buffer.readableBytes == 0)
        return decoded
    }

    @Test func fixedPacketsMatchTheStandard() {
        // Section 3.12–3.14: PINGREQ C0 00, PINGRESP D0 00, DISCONNECT E0 00; 3.4: PUBACK 40 02 id.
        #expect(bytes(.pingreq) == [0xC0, 0x00])
        #expect(bytes(.pingresp) == [0xD0, 0x00])
        #expect(bytes(.disconnect) == [0xE0, 0x00])
        #expect(bytes(.puback(packetId: 0x1234)) == [0x40, 0x02, 0x12, 0x34])
    }

    @Test func connectCarriesProtocolLevelFourAndItsFlags() throws {
        let connect = MQTTPacket.connect(.init(clientId: "courtyard", cleanSession: false, keepAliveSeconds: 30, username: "u", password: "p"))
        let wire = bytes(connect)
        // 10 len 00 04 'MQTT' 04 flags(C0: user + password, no clean session) 00 1E …
        #expect(Array(wire[2...11]) == [0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0xC0, 0x00, 0x1E])
        #expect(try roundTrip(connect) == connect)
    }

    @Test func everyPacketRoundTrips() throws {
        let packets: [MQTTPacket] = [
            .connack(sessionPresent: true, returnCode: 0),
            .publish(.init(topic: "courtyard/c/m/devices/d/telemetry", payload: Array("{\"reading\":\"1\"}".utf8), qos: 1, packetId: 7)),
            .publish(.init(topic: "a/b", payload: [], qos: 0, retain: true)),
            .subscribe(packetId: 3, filters: [MQTTTopicFilter("courtyard/+/+/devices/+/telemetry", qos: 1), MQTTTopicFilter("x/#", qos: 0)]),
            .suback(packetId: 3, returnCodes: [1, 0x80]),
        ]
        for packet in packets { #expect(try roundTrip(packet) == packet) }
    }

    @Test func remainingLengthUsesOneToFourBytes() throws {
        for (size, lengthBytes) in [(0, 1), (127, 1), (128, 2), (16_383, 2), (16_384, 3), (300_000, 3)] {
            let topic = "t"
            let payload = [UInt8](repeating: 0x41, count: max(0, size - 3))
            let packet = MQTTPacket.publish(.init(topic: topic, payload: payload, qos: 0))
            let wire = bytes(packet)
            let remaining = 3 + payload.count
            #expect(wire.count == 1 + lengthBytes + remaining, "size \(size)")
            #expect(try roundTrip(packet) == packet)
        }
    }

    @Test func aPartialPacketWaitsAndAnOversizedOneIsRefused() throws {
        let wire = bytes(.publish(.init(topic: "a/b", payload: Array(repeating: 1, count: 200), qos: 1, packetId: 9)))
        for cut in 0..<wire.count {
            var buffer = ByteBuffer(bytes: wire[0..<cut])
            #expect(try MQTTPacket.read(from: &buffer) == nil)
            #expect(buffer.readableBytes == cut, "nothing consumed until the packet is whole")
        }
        var huge = ByteBuffer(bytes: [0x30, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(throws: MQTTPacket.DecodingError.tooLarge(268_435_455)) { try MQTTPacket.read(from: &huge) }
        var endless = ByteBuffer(bytes: [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(throws: MQTTPacket.DecodingError.malformedRemainingLength) { try MQTTPacket.read(from: &endless) }
    }

    @Test func topicFiltersMatchLikeTheBroker() {
        #expect(mqttTopic("courtyard/c1/m1/devices/d1/telemetry", matches: "courtyard/+/+/devices/+/telemetry"))
        #expect(!mqttTopic("courtyard/c1/m1/devices/d1/commands", matches: "courtyard/+/+/devices/+/telemetry"))
        #expect(mqttTopic("courtyard/c1/anything/at/all", matches: "courtyard/c1/#"))
        #expect(!mqttTopic("courtyard/c1", matches: "courtyard/c1/+"))
    }

    @Test func arbitraryBytesNeverCrashTheDecoder() async {
        await propertyCheck(count: 3_000, input: Gen.uint8().array(of: 0...64)) { bytes in
            var buffer = ByteBuffer(bytes: bytes)
            while let packet = try? MQTTPacket.read(from: &buffer) { _ = packet }
        }
    }

    @Test func clientURLsAreRead() {
        let configuration = MQTTClient.Configuration(url: "mqtt://ingest:secret@127.0.0.1:1884", clientId: "x")
        #expect(configuration?.host == "127.0.0.1")
        #expect(configuration?.port == 1884)
        #expect(configuration?.username == "ingest")
        #expect(configuration?.password == "secret")
        #expect(MQTTClient.Configuration(url: "http://x", clientId: "x") == nil)
    }
}
