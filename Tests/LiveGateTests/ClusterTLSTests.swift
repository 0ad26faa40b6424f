import Foundation
import LiveGateRedis
import LiveGateTLS
import LiveGateTestSupport
import Synchronization
import Testing

@testable import LiveGate

/// The cluster over `rediss://`: a core and an edge in one process talk to a real `redis-server`
/// that speaks TLS only and wants client certificates (`tls-auth-clients yes`), with a throwaway
/// CA made by the `openssl` command.
@Suite(.serialized)
struct ClusterTLSTests {
    /// A CA, a TLS-only redis-server with its certificate for 127.0.0.1 that wants clients to show
    /// one, and a client certificate for the nodes.
    final class Setup {
        let authority: TestCertificateAuthority
        let redis: RedisServer
        let node: TestCertificateAuthority.Issued

        init() throws {
            authority = try TestCertificateAuthority()
            let issued = try authority.issue("redis", subjectAltName: "IP:127.0.0.1")
            redis = try RedisServer(tls: RedisServer.TLS(
                certificate: issued.certificate, key: issued.key, clientCA: authority.certificate, requireClientCertificate: true))
            node = try authority.issue("livegate node", clientAuth: true)
        }

        /// A node's cluster settings: the CA and the client certificate.
        func secure(_ settings: inout ClusterSettings) {
            settings.redisCAFile = authority.certificate
            settings.redisCertFile = node.certificate
            settings.redisKeyFile = node.key
        }

        var settings: ClusterSettings {
            var settings = ClusterSettings(redis: redis.url)
            secure(&settings)
            return settings
        }
    }

    /// Orders at the core reach a viewer at the edge, byte for byte as the core's own viewer gets
    /// them, through Redis over TLS; the room stream is in Redis.
    @Test func aCoreAndAnEdgeServeAViewerOverRediss() throws {
        let setup = try Setup()
        let core = try RoomFixture { $0.cluster = setup.settings }
        let edge = try EdgeTests.Edge(redis: setup.redis.url) { setup.secure(&$0) }
        #expect(try edge.waitUntilReady(), "the edge follows the core over TLS")

        let (atEdge, edgeSnapshot) = try EdgeTests.join(edge, core, .viewer, sub: "v-edge")
        let (atCore, coreSnapshot) = try core.join(.viewer, sub: "v-core")
        let epoch = try #require(coreSnapshot["epoch"] as? String)
        #expect(edgeSnapshot["epoch"] as? String == epoch)
        let (connector, _) = try core.join(.connector, channel: "taobao")
        for index in 1...4 {
            connector.sendJSON(["type": "order", "orderId": "TLS-\(index)", "sku": "hoodie", "qty": 1, "state": "paid"])
        }
        let start = max(edgeSnapshot["seq"] as? Int ?? 0, coreSnapshot["seq"] as? Int ?? 0)
        let fromEdge = try EdgeTests.read(atEdge, after: start, sku: "hoodie", sellable: 6)
        let fromCore = try EdgeTests.read(atCore, after: start, sku: "hoodie", sellable: 6)
        #expect(!fromEdge.isEmpty)
        #expect(fromEdge.map(\.text) == fromCore.map(\.text), "byte for byte")

        // An order sent at the edge goes to the core through Redis and its answer comes back.
        let (edgeConnector, _) = try EdgeTests.join(edge, core, .connector, channel: "douyin")
        edgeConnector.sendJSON(["type": "order", "id": "e1", "orderId": "TLS-EDGE", "sku": "cap", "qty": 2, "state": "paid"])
        #expect(edgeConnector.read(type: "result")?["ok"] as? Bool == true)

        let publisher = try #require(core.gateway.cluster)
        #expect(publisher.stats.ready.load(ordering: .relaxed) == 1)
        let reader = try ClientHarness(
            url: setup.redis.url,
            tls: try TLSClientContext(caFile: setup.authority.certificate, certificateFile: setup.node.certificate, keyFile: setup.node.key))
        #expect(reader.waitUntilReady())
        let key = publisher.key(room: "demo", audience: .viewer)
        #expect(ClusterPublisherTests.waitForEntries(reader, key: key, count: fromCore.count) >= fromCore.count)
    }

    /// A node whose client certificate Redis does not accept never gets ready (an edge's /readyz
    /// stays 503); files that cannot be used stop the node at start-up, naming them.
    @Test func aNodeWithoutItsCertificateIsNotReadyAndBadFilesStopTheStart() throws {
        let setup = try Setup()
        let edge = try EdgeTests.Edge(redis: setup.redis.url) { $0.redisCAFile = setup.authority.certificate }
        #expect(try !edge.waitUntilReady(seconds: 1.5), "no client certificate: Redis refuses the edge")

        let notPEM = NSTemporaryDirectory() + "livegate-not-pem-\(UUID().uuidString)"
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: notPEM))
        defer { try? FileManager.default.removeItem(atPath: notPEM) }
        var settings = setup.settings
        settings.redisCAFile = notPEM
        do {
            _ = try RoomFixture { $0.cluster = settings }
            Issue.record("a CA file without certificates was accepted")
        } catch {
            #expect("\(error)".contains("cannot load CA certificates from \(notPEM)"), "\(error)")
        }
        settings = setup.settings
        settings.redisKeyFile = setup.authority.certificate
        do {
            _ = try EdgeTests.Edge(redis: setup.redis.url) { $0 = settings; $0.role = .edge }
            Issue.record("a certificate as the key was accepted")
        } catch {
            #expect("\(error)".contains("cannot use client key"), "\(error)")
        }
    }

    /// The keys are read from the configuration file; `rediss://` alone uses the system's CAs.
    @Test func theTLSKeysAreRead() throws {
        let setup = try Setup()
        let text = """
            { cluster: { redis: 'rediss://127.0.0.1:\(setup.redis.port)', redisCAFile: '\(setup.authority.certificate)',
                         redisCertFile: '\(setup.node.certificate)', redisKeyFile: '\(setup.node.key)' } }
            """
        let cluster = try #require(try Configuration.parse(Data(text.utf8)).cluster)
        #expect(cluster.redis.usesTLS)
        #expect(cluster.redisCAFile == setup.authority.certificate)
        #expect(cluster.redisCertFile == setup.node.certificate)
        #expect(cluster.redisKeyFile == setup.node.key)
        #expect(try cluster.makeRedisTLS() != nil)
        let plain = try #require(try Configuration.parse(Data("{ cluster: { redis: 'rediss://redis.internal' } }".utf8)).cluster)
        #expect(plain.redisCAFile == nil)
        #expect(try plain.makeRedisTLS() != nil, "the system's CA certificates")
    }
}
