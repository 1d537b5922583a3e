"""WeChat Pay v3 and Alipay at their HTTP boundary, for the harness: keys made for the run, the payments configuration
that points the server at a local fake of each channel, the fakes themselves, and notifications signed (and, for
WeChat Pay, encrypted) the way each channel sends them. The server verifies everything with its real code.

Needs Python's `cryptography` (scripts/test installs it into .build-venv; `pip install cryptography` elsewhere).
Signing follows the channels' published rules, the same as Tests/CourtyardServerTests/FakePaymentChannels.swift:
- WeChat Pay v3: a notification is signed SHA256withRSA (PKCS#1 v1.5) over "timestamp\\nnonce\\nbody\\n" by the platform
  key; its resource is AEAD_AES_256_GCM under the APIv3 key with associated data "transaction". Answers to the merchant's
  requests are signed the same way.
- Alipay RSA2: the parameters but sign and sign_type, non-empty, sorted by name, joined k=v&…, signed SHA256withRSA.
"""
import base64
import http.server
import json
import os
import threading
import time
import urllib.parse
import uuid

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:  # pragma: no cover - a clear message instead of a traceback
    raise SystemExit("the harness needs Python's cryptography: run scripts/test once (it makes .build-venv), "
                     "or pip install cryptography")

MCH_ID = "1900000109"
WECHAT_APP_ID = "wx8888888888888888"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PLATFORM_SERIAL = "PUB_KEY_ID_0114232020240901000001"
ALIPAY_APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _sign(key, message):
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def _pem(key, public=False):
    if public:
        return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def alipay_content(fields, excluding=("sign", "sign_type")):
    """Alipay's string to sign: non-empty parameters but `excluding`, sorted by name in byte order, joined k=v&…
    (notifications leave out sign and sign_type; a request signs its sign_type)."""
    return "&".join(f"{name}={value}" for name, value in sorted(fields, key=lambda item: item[0].encode())
                    if name not in excluding and value != "")


class Channels:
    """Keys, the configuration file and the two fakes of one harness run."""

    def __init__(self, work):
        self.merchant = _key()     # the merchant's WeChat Pay API key (the server signs requests with it)
        self.platform = _key()     # WeChat Pay's platform key (signs notifications and answers)
        self.app = _key()          # the merchant's Alipay app key
        self.alipay = _key()       # Alipay's key (signs notifications and answers)
        self.api_v3_key = os.urandom(16).hex()  # 32 characters, as WeChat Pay's console issues them
        self.requests = 0
        self.lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        # Secrets go in files of their own, as an operator would keep them; the configuration names the files.
        paths = {}
        for name, text in (("merchant.pem", _pem(self.merchant)), ("platform-public.pem", _pem(self.platform, public=True)),
                           ("app.pem", _pem(self.app)), ("alipay-public.pem", _pem(self.alipay, public=True)),
                           ("api-v3-key", self.api_v3_key)):
            paths[name] = os.path.join(work, name)
            with open(paths[name], "w") as handle:
                handle.write(text)
            os.chmod(paths[name], 0o600)
        base = f"http://127.0.0.1:{self.port}"
        configuration = {"companies": {"demo": {
            "wechatpay": {"mch_id": MCH_ID, "app_id": WECHAT_APP_ID, "merchant_serial": MERCHANT_SERIAL,
                          "merchant_private_key": "file:" + paths["merchant.pem"], "api_v3_key": "file:" + paths["api-v3-key"],
                          "platform_public_keys": {PLATFORM_SERIAL: "file:" + paths["platform-public.pem"]},
                          "notify_url": "https://pay.example.com/api/v1/payments/notify/wechatpay", "base_url": base},
            "alipay": {"app_id": ALIPAY_APP_ID, "seller_id": SELLER_ID, "app_private_key": "file:" + paths["app.pem"],
                       "alipay_public_key": "file:" + paths["alipay-public.pem"], "gateway": base + "/gateway.do",
                       "notify_url": "https://pay.example.com/api/v1/payments/notify/alipay"}}}}
        self.config_path = os.path.join(work, "payments.json")
        with open(self.config_path, "w") as handle:
            json.dump(configuration, handle)
        # What the logs must never contain: the private keys' bodies and the APIv3 key.
        self.secrets = [self.api_v3_key] + [_pem(key).splitlines()[1] for key in (self.merchant, self.platform, self.app, self.alipay)]

    def close(self):
        self.httpd.shutdown()

    # The fakes

    def _handler(self):
        channels = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *arguments):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with channels.lock:
                    channels.requests += 1
                if self.path == "/gateway.do":
                    self._answer(*channels._alipay(body))
                else:
                    self._answer(*channels._wechat(self.path, self.headers.get("authorization", ""), body))

            def _answer(self, status, headers, body):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _wechat(self, path, authorization, body):
        # The merchant's request must be signed by its key: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",…
        fields = dict(part.split("=", 1) for part in authorization.removeprefix("WECHATPAY2-SHA256-RSA2048 ").split(",") if "=" in part)
        fields = {name: value.strip('"') for name, value in fields.items()}
        message = f"POST\n{path}\n{fields.get('timestamp', '')}\n{fields.get('nonce_str', '')}\n".encode() + body + b"\n"
        try:
            self.merchant.public_key().verify(base64.b64decode(fields.get("signature", "")), message, padding.PKCS1v15(), hashes.SHA256())
        except Exception:  # noqa: BLE001 - any failure is a refused signature
            return 401, {"content-type": "application/json"}, b'{"code":"SIGN_ERROR","message":"refused"}'
        if fields.get("mchid") != MCH_ID:
            return 401, {"content-type": "application/json"}, b'{"code":"SIGN_ERROR","message":"mchid"}'
        request = json.loads(body or b"{}")
        if path == "/v3/pay/transactions/native":
            answer = json.dumps({"code_url": f"weixin://wxpay/bizpayurl?pr={request.get('out_trade_no', '')}"}).encode()
            return 200, self._wechat_signed_headers(answer), answer
        if path.startswith("/v3/pay/transactions/out-trade-no/") and path.endswith("/close"):
            return 204, self._wechat_signed_headers(b""), b""
        return 404, {"content-type": "application/json"}, b'{"code":"NOT_FOUND","message":"no such path"}'

    def _wechat_signed_headers(self, body):
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
        signature = _sign(self.platform, f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
        return {"content-type": "application/json", "wechatpay-timestamp": timestamp, "wechatpay-nonce": nonce,
                "wechatpay-signature": signature, "wechatpay-serial": PLATFORM_SERIAL}

    def _alipay(self, body):
        fields = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
        values = dict(fields)
        try:
            content = alipay_content(fields, excluding=("sign",))
            self.app.public_key().verify(base64.b64decode(values.get("sign", "")), content.encode(), padding.PKCS1v15(), hashes.SHA256())
        except Exception:  # noqa: BLE001
            return 401, {"content-type": "application/json"}, b'{"code":"40002","msg":"invalid sign"}'
        biz = json.loads(values.get("biz_content") or "{}")
        if values.get("method") != "alipay.trade.precreate":
            return 404, {"content-type": "application/json"}, b'{"code":"40004","msg":"unknown method"}'
        node = json.dumps({"code": "10000", "msg": "Success", "out_trade_no": biz.get("out_trade_no", ""),
                           "qr_code": "https://qr.alipay.com/bax0" + biz.get("out_trade_no", "")[-8:]}, separators=(",", ":"))
        answer = '{"alipay_trade_precreate_response":' + node + ',"sign":"' + _sign(self.alipay, node.encode()) + '"}'
        return 200, {"content-type": "application/json"}, answer.encode()

    # Notifications

    def wechat_notification(self, out_trade_no, transaction_id, total_fen):
        """A TRANSACTION.SUCCESS notification: (body, headers)."""
        paid = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600))
        transaction = {"mchid": MCH_ID, "appid": WECHAT_APP_ID, "out_trade_no": out_trade_no, "transaction_id": transaction_id,
                       "trade_type": "NATIVE", "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
                       "attach": "", "success_time": paid, "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
                       "amount": {"total": total_fen, "payer_total": total_fen, "currency": "CNY", "payer_currency": "CNY"}}
        nonce = uuid.uuid4().hex[:12]
        sealed = AESGCM(self.api_v3_key.encode()).encrypt(nonce.encode(), json.dumps(transaction).encode(), b"transaction")
        envelope = {"id": str(uuid.uuid4()), "create_time": paid, "resource_type": "encrypt-resource",
                    "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
                    "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                                 "ciphertext": base64.b64encode(sealed).decode(), "associated_data": "transaction", "nonce": nonce}}
        body = json.dumps(envelope, ensure_ascii=False)
        timestamp, signature_nonce = str(int(time.time())), uuid.uuid4().hex
        headers = {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": signature_nonce, "Wechatpay-Serial": PLATFORM_SERIAL,
                   "Wechatpay-Signature": _sign(self.platform, f"{timestamp}\n{signature_nonce}\n{body}\n".encode()),
                   "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048", "Content-Type": "application/json"}
        return body.encode(), headers

    def alipay_notification(self, out_trade_no, trade_no, total_yuan):
        """A TRADE_SUCCESS notification: (form body, headers)."""
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 8 * 3600))
        fields = [("gmt_create", now), ("charset", "utf-8"), ("seller_email", ""), ("subject", "预付费充值"),
                  ("buyer_id", "2088102177846880"), ("notify_type", "trade_status_sync"), ("total_amount", total_yuan),
                  ("trade_no", trade_no), ("notify_id", uuid.uuid4().hex), ("app_id", ALIPAY_APP_ID), ("out_trade_no", out_trade_no),
                  ("trade_status", "TRADE_SUCCESS"), ("seller_id", SELLER_ID), ("gmt_payment", now), ("version", "1.0"),
                  ("notify_time", now)]
        fields += [("sign", _sign(self.alipay, alipay_content(fields).encode())), ("sign_type", "RSA2")]
        return urllib.parse.urlencode(fields).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
