#!/usr/bin/python3
# make-fused-qdq: the fastest int8 form ONNX Runtime knows for ResNet-18 / MobileNet-V2, a speed
# peer ONLY (NOT exact, not f8net's weights): a TFLite-like QDQ graph where every conv / FC is
# DQ -> Conv -> [Relu] -> Q (ORT: QLinearConv), every residual requantizes before DQ -> Add ->
# [Relu] -> Q (QLinearAdd), pooling is QLinearGlobalAveragePool / uint8 MaxPool; power-of-two
# scales, zero points 0, random int8 weights. Same architecture, shapes and MACs as the zoo.
#   make-fused-qdq.py ARCH SIZE OUT.onnx [CLASSES]   (ARCH: resnet18 | mobilenet_v2)
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ACT_SCALE = 2.0 ** -4  # every activation on one power-of-two grid, zero point 0 (uint8)
W_SCALE = 2.0 ** -7


class Graph:
    def __init__(self, seed=1):
        self.nodes, self.inits, self.n, self.macs = [], [], 0, 0
        self.rng = np.random.default_rng(seed)
        self.const('s_act', np.array(ACT_SCALE, np.float32))
        self.const('zp_act', np.array(0, np.uint8))

    def name(self, base):
        self.n += 1
        return f'{base}_{self.n}'

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def node(self, op, inputs, base, domain=None, **attrs):
        out = self.name(base)
        self.nodes.append(helper.make_node(op, inputs, [out], domain=domain, **attrs))
        return out

    def dq(self, x):
        return self.node('DequantizeLinear', [x, 's_act', 'zp_act'], 'dq')

    def q(self, x):
        return self.node('QuantizeLinear', [x, 's_act', 'zp_act'], 'q')

    def conv(self, x, cin, cout, k, stride, pad, hw, groups=1, relu=True):
        """x: uint8 codes [1, cin, h, w] -> uint8 codes; returns (codes, out hw)."""
        w = self.rng.integers(-127, 128, size=(cout, cin // groups, k, k), dtype=np.int8)
        wn = self.const(self.name('w'), w)
        ws = self.const(self.name('ws'), np.full(cout, W_SCALE, np.float32))
        wz = self.const(self.name('wz'), np.zeros(cout, np.int8))
        wf = self.node('DequantizeLinear', [wn, ws, wz], 'wdq', axis=0)
        b = self.const(self.name('b'), self.rng.integers(-2000, 2000, size=cout, dtype=np.int32))
        bs = self.const(self.name('bs'), np.full(cout, ACT_SCALE * W_SCALE, np.float32))
        bz = self.const(self.name('bz'), np.zeros(cout, np.int32))
        bf = self.node('DequantizeLinear', [b, bs, bz], 'bdq', axis=0)
        y = self.node('Conv', [self.dq(x), wf, bf], 'conv', kernel_shape=[k, k],
                      strides=[stride, stride], pads=[pad] * 4, group=groups)
        if relu:
            y = self.node('Relu', [y], 'relu')
        out = (hw + 2 * pad - k) // stride + 1
        self.macs += out * out * cout * (cin // groups) * k * k
        return self.q(y), out

    def add(self, a, b, relu):
        y = self.node('Add', [self.dq(a), self.dq(b)], 'add')
        if relu:
            y = self.node('Relu', [y], 'relu')
        return self.q(y)

    def head(self, x, cin, classes):
        g = self.q(self.node('GlobalAveragePool', [self.dq(x)], 'gap'))
        f = self.node('Flatten', [g], 'flat', axis=1)
        w = self.rng.integers(-127, 128, size=(classes, cin), dtype=np.int8)
        wn = self.const(self.name('fcw'), w)
        ws = self.const(self.name('fcws'), np.array(W_SCALE, np.float32))
        wz = self.const(self.name('fcwz'), np.array(0, np.int8))
        wf = self.node('DequantizeLinear', [wn, ws, wz], 'fcwdq')
        b = self.const(self.name('fcb'), np.zeros(classes, np.float32))
        self.macs += cin * classes
        return self.node('Gemm', [self.dq(f), wf, b], 'logits', transB=1)


def resnet18(g, x, size, classes):
    x, hw = g.conv(x, 3, 64, 7, 2, 3, size)
    x = g.node('MaxPool', [x], 'maxpool', kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    hw = (hw + 2 - 3) // 2 + 1
    cin = 64
    for stage, cout in enumerate([64, 128, 256, 512]):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            y, ohw = g.conv(x, cin, cout, 3, stride, 1, hw)
            y, _ = g.conv(y, cout, cout, 3, 1, 1, ohw, relu=False)
            short = x
            if stride != 1 or cin != cout:
                short, _ = g.conv(x, cin, cout, 1, stride, 0, hw, relu=False)
            x, hw, cin = g.add(y, short, relu=True), ohw, cout
    return g.head(x, cin, classes)


def mobilenet_v2(g, x, size, classes):
    x, hw = g.conv(x, 3, 32, 3, 2, 1, size)
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y, yhw = x, hw
            if t != 1:
                y, yhw = g.conv(y, cin, hidden, 1, 1, 0, yhw)
            y, yhw = g.conv(y, hidden, hidden, 3, stride, 1, yhw, groups=hidden)
            y, yhw = g.conv(y, hidden, c, 1, 1, 0, yhw, relu=False)
            x = g.add(y, x, relu=False) if stride == 1 and cin == c else y
            hw, cin = yhw, c
    x, hw = g.conv(x, cin, 1280, 1, 1, 0, hw)
    return g.head(x, 1280, classes)


def main():
    if len(sys.argv) < 4:
        sys.exit('usage: make-fused-qdq.py ARCH SIZE OUT.onnx [CLASSES]')
    arch, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    classes = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    builders = {'resnet18': resnet18, 'mobilenet_v2': mobilenet_v2}
    if arch not in builders:
        sys.exit(f'make-fused-qdq: unknown arch {arch} (resnet18, mobilenet_v2)')
    g = Graph()
    logits = builders[arch](g, 'input', size, classes)
    graph = helper.make_graph(
        g.nodes, f'{arch}-{size}-fused-qdq', [helper.make_tensor_value_info(
            'input', TensorProto.UINT8, ['N', 3, size, size])],
        [helper.make_tensor_value_info(logits, TensorProto.FLOAT, ['N', classes])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)],
                              producer_name='f8net bench/peers/make-fused-qdq (speed peer, not exact)')
    model.ir_version = 8
    onnx.checker.check_model(model)
    tmp = out + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(model.SerializeToString())
    import os
    os.replace(tmp, out)
    print(f'{out}: {len(g.nodes)} nodes, {g.macs / 1e9:.3f} GMAC (fused QDQ speed peer, not exact)')


if __name__ == '__main__':
    main()
