#!/usr/bin/env python3
"""Writes the seed inputs of fuzz/corpus/ (small, valid-looking inputs of
each parser; regression inputs found later are added by hand beside them).
Needs qemu-img for the image seeds. Usage: fuzz/make_seeds.py"""
import gzip, io, os, struct, subprocess, tarfile, tempfile

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(name, seed, data):
    d = os.path.join(here, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, seed), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def xmlcall(method, *params):
    ps = "".join(f"<param><value>{p}</value></param>" for p in params)
    return f'<?xml version="1.0"?><methodCall><methodName>{method}</methodName><params>{ps}</params></methodCall>'


put("xmlrpc", "login", xmlcall("session.login_with_password", "root", "<string>secret</string>", "<string>1.0</string>"))
put("xmlrpc", "where", xmlcall("VM.get_all_records_where", "<string>OpaqueRef:abc</string>",
                               '<string>field "power_state" = "Running"</string>'))
put("xmlrpc", "types", xmlcall("VM.set_other_config", "<string>OpaqueRef:s</string>",
                               "<struct><member><name>k</name><value><array><data><value><i4>-7</i4></value>"
                               "<value><int>42</int></value><value><boolean>1</boolean></value>"
                               "<value><double>1.5e3</double></value><value><base64>aGVsbG8=</base64></value>"
                               "<value><dateTime.iso8601>20261207T06:00:00Z</dateTime.iso8601></value>"
                               "</data></array></value></member></struct>"))
put("xmlrpc", "success", '<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status'
    '</name><value>Success</value></member><member><name>Value</name><value>OpaqueRef:x</value></member>'
    '</struct></value></param></params></methodResponse>')
put("xmlrpc", "failure", '<methodResponse><params><param><value><struct><member><name>Status</name><value>Failure'
    '</value></member><member><name>ErrorDescription</name><value><array><data><value>HANDLE_INVALID</value>'
    '<value>VM</value></data></array></value></member></struct></value></param></params></methodResponse>')
put("xmlrpc", "entities", xmlcall("VM.set_name_label", "&lt;a&amp;b&#65;&#x42;&gt;", "<nil/>"))

put("jsonrpc", "login", '{"jsonrpc":"2.0","method":"session.login_with_password","params":["root","x","1.0"],"id":1}')
put("jsonrpc", "v1", '{"method":"VM.get_all_records","params":["OpaqueRef:s"],"id":"a"}')
put("jsonrpc", "types", '{"jsonrpc":"2.0","method":"VM.set_other_config","params":["s",{"k":[1,-2.5e3,true,null,'
    '"\\u00e9\\ud83d\\ude00\\n"]}],"id":9007199254740993}')
put("jsonrpc", "response", '{"jsonrpc":"2.0","result":{"a":[1,2]},"id":1}')
put("jsonrpc", "error", '{"jsonrpc":"2.0","error":{"code":1,"message":"HANDLE_INVALID","data":["VM","x"]},"id":1}')

vm = bytes([9])  # SC_C_VM
put("filter", "eq", vm + b'field "power_state" = "Running"')
put("filter", "ops", vm + b'not (field "name__label" <> "a") and (true or false) or field "other_config__k" = "v"')
put("filter", "map", vm + b'field "is_a_template"="false" and field "other_config"="(\'a\' \'b\')"')
put("filter", "bad", vm + b'field "power_state" = "unterminated')

put("httpq", "query", "uuid=6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f&session_id=OpaqueRef%3Aabc&x=a+b%2")
put("httpq", "head", "CONNECT /console?ref=OpaqueRef:1 HTTP/1.0\r\nCookie: a=b; session_id=OpaqueRef:s\r\n"
    "Authorization: Basic cm9vdDpzZWNyZXQ=\r\n\r\n")
put("httpq", "accept", "text/xml;q=0.5, application/json;q=0.9, */*;q=0.1")
put("httpq", "cookie", " ; session_id=OpaqueRef:zz;other=1")
put("httpq", "int", "-9223372036854775808")

put("rrd_updates", "host", "start=1700000000&host=true&json=true")
put("rrd_updates", "vm", "start=-60&interval=5&cf=AVERAGE&vm_uuid=6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f")
put("rrd_updates", "all", "start=0&vm_uuid=all&sr_uuid=none&cf=MAX")
# regression: a uuid that walks out of the store (rr_store.c plain_name)
put("rrd_updates", "traversal", "start=0&vm_uuid=x%2F..%2F..%2Fvictim&sr_uuid=../victim")


def tar(members, gz=False):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    raw = b.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


ovaxml = (b'<value><struct><member><name>version</name><value><struct><member><name>export_vsn</name>'
          b'<value>2</value></member></struct></value></member><member><name>objects</name><value><array><data>'
          b'<value><struct><member><name>class</name><value>VDI</value></member><member><name>id</name>'
          b'<value>Ref:1</value></member><member><name>snapshot</name><value><struct><member><name>'
          b'virtual_size</name><value>1048576</value></member></struct></value></member></struct></value>'
          b'</data></array></value></member></struct></value>')
chunk = b"\x01" * 512
members = [("ova.xml", ovaxml), ("Ref:1/00000000", chunk), ("Ref:1/00000000.xxhash", b"0123456789abcdef")]
put("xva", "plain", b"\x07" + tar(members))
put("xva", "gzip", b"\x02" + tar(members, gz=True))

put("chunked", "two", b"\x05" + struct.pack("<QI", 0, 4) + b"abcd" + struct.pack("<QI", 4096, 3) + b"xyz"
    + struct.pack("<QI", 0, 0))
put("chunked", "edge", b"\x00" + struct.pack("<QI", (1 << 20) - 2, 2) + b"zz" + struct.pack("<QI", 0, 0))

put("xe_args", "vmlist", b"server=localhost\nusername=root\npassword=x\n\0port=443,nossl=true\0vm-list\0"
    b"params=uuid,name-label\0--minimal\0power-state=running")
put("xe_args", "switches", b"\0\0-s\0host\0-u\0root\0-pw\0pw\0-p\0444\0vm-start\0vm=a=b\0force=yes")

ovf = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
 xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
 <References><File ovf:id="f1" ovf:href="disk1.vmdk"/></References>
 <DiskSection><Disk ovf:diskId="d1" ovf:fileRef="f1" ovf:capacity="2" ovf:capacityAllocationUnits="byte * 2^30"/></DiskSection>
 <VirtualSystem ovf:id="vm"><Name>small</Name>
  <VirtualHardwareSection>
   <Item><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
   <Item><rasd:ResourceType>4</rasd:ResourceType><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
    <rasd:VirtualQuantity>512</rasd:VirtualQuantity></Item>
   <Item><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/d1</rasd:HostResource></Item>
  </VirtualHardwareSection></VirtualSystem></Envelope>
"""
put("ovf", "envelope", ovf)

with tempfile.TemporaryDirectory() as tmp:
    def img(fmt, opts, keep_tail=False):
        p = os.path.join(tmp, "i." + fmt)
        subprocess.run(["qemu-img", "create", "-q", "-f", fmt] + opts + [p, "64M"], check=True)
        data = open(p, "rb").read()
        return data[:4096] + (data[-512:] if keep_tail else b"")
    put("qcow2", "qcow2", b"\x00" + img("qcow2", []))
    put("qcow2", "qcow2-backing", b"\x00" + img("qcow2", ["-o", "backing_file=/etc/passwd,backing_fmt=raw"]))
    put("qcow2", "vmdk", b"\x01" + img("vmdk", []))
    put("qcow2", "vhd", b"\x02" + img("vpc", [], keep_tail=True))
    # vhd uploads: a small dynamic disk (headers and BAT only) and a fixed one
    p = os.path.join(tmp, "d.vhd")
    subprocess.run(["qemu-img", "create", "-q", "-f", "vpc", p, "4M"], check=True)
    put("vhd", "dynamic", b"\x03\x01" + open(p, "rb").read())
    raw = os.path.join(tmp, "r.raw")
    with open(raw, "wb") as f:
        f.write(b"\x00" * 8192 + b"data" * 1024 + b"\x00" * 4096)
    subprocess.run(["qemu-img", "convert", "-q", "-O", "vpc", "-o", "subformat=fixed,force_size=on", raw, p],
                   check=True)
    put("vhd", "fixed", b"\x10\x01" + open(p, "rb").read())
