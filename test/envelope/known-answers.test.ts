// The byte-exact known-answer messages of
// shared/reference/encryption-sdk-known-answers.md (made by client-node).
import { describe, expect, it } from 'vitest';
import { envelope, RawAesKeyring } from '../../dist/index.js';

const KAT1 =
  '0204787e06f5a43bf41f6661ae2d85db17e54faae4dce1cd4aa1776c88707f0f52f59400000001000c6d792d6e616d657370616365001e6d792d6165732d6b6579000000800000000c5de4dade80ae04655068d0520030f49474fa76b10e1fbbab8fbb21dc9fb58058efa5809d341be7bf346a48455bdf44a202e455cbf794f53aa2b6e68f1cd202000010000d06d119602011040fe6610aaa2e00c9ab2798da58dd7d8abae0db0e1256f813ef450b63b23c222e51319f86d487fc0bffffffff00000001000000000000000000000001000000003d183b4edb0e9ca6cf11f1268faa1921';
const KAT2_PLAINTEXT =
  'fc4010b9b4d23e23250ce1cf6fa7843819638bda964759b438acfc84061e0b4a57b831e99084d9852096a548a2b9bb895a68f91e1f05eca6acfd623949f633686e2251d0bf7fdfec5934b37318605fa778140f15858d79349dc9bf742b12afb0736e42a8';
const KAT2 =
  '02047852fc5b13d079e01684e152d0fdf581c350aae827d33a9395fd473dde2fd6ad40001c000200056f776e657200026d650007707572706f73650004746573740001000c6d792d6e616d657370616365001e6d792d6165732d6b6579000000800000000c7a91d5983984120cafe8162c00302833aabb05bb41e0cb502a88b4477ddd83285062842323479461f4af914022a7bcb04c743a948efc67d8a1b9b69d12f50200000064fab26173fbc2a8f4593bd3ae8fce35b46947c0684dcf756106ef57ccfdf81b8b188f042a9f5eb40a2dfbc3bb43d453260000000100000000000000000000000129df41c138a559da38534a3870725186edee291ee9d746826d7760fc79c298baac0d585e911b9ea8b065b29c45a7509a390515967e8aaf13a29cd2e81954a59e436cd33d402e87d1912d5909a9237f9857cb06184859d69de97824c06d7bbc999259d0d2fd34af78ed4432af928141c73ae6cfd5ffffffff00000002000000000000000000000002000000003b24dc82b232a34cf028804aa9edb3d0';
const KAT3 =
  '02047834141832982726168e05e875f75b80e3c9969fd212d9d0d9f821e9aa2bfd002a001600020001420005757070657200016100056c6f7765720001000c6d792d6e616d657370616365001e6d792d6165732d6b6579000000800000000c869179dfe2ce95da7a1ab80500304f073d0797d429cf8f76aa7a1dbbf1df2af77f9f80fa7ad3fe36370ff8fa54df94a1fa66f5827d4e418e13f8c4b54fb902000010009bf62555bbd060458a53a87ed8def0aa34f323807d4023a854901a88faa7217a29d0bc54afd199faac83bf778019d281ffffffff000000010000000000000000000000010000000159ccab5f6c23c0453e3ca4bfe07922553f';

const options = { keyName: 'my-aes-key', keyNamespace: 'my-namespace', unencryptedMasterKey: Buffer.alloc(32, 7) };

describe('ESDK known answers', () => {
  it('KAT 1: empty plaintext and context, 228 bytes', async () => {
    const { plaintext, header } = await envelope.decrypt(Buffer.from(KAT1, 'hex'), { keyring: new RawAesKeyring(options) });
    expect(plaintext.length).toBe(0);
    expect(header).toMatchObject({ version: 2, suiteId: 0x0478, contentType: 2, frameLength: 4096, headerLength: 188, encryptionContext: {} });
    expect(Buffer.from(header.suiteData).toString('hex')).toBe('0d06d119602011040fe6610aaa2e00c9ab2798da58dd7d8abae0db0e1256f813');
    expect(header.encryptedDataKeys[0]).toMatchObject({ providerId: 'my-namespace' });
  });

  it('KAT 2: one full frame and an empty final frame', async () => {
    const { plaintext, header } = await envelope.decrypt(Buffer.from(KAT2, 'hex'), { keyring: new RawAesKeyring({ ...options, utf8Sorting: true }), encryptionContext: { owner: 'me' } });
    expect(plaintext.toString('hex')).toBe(KAT2_PLAINTEXT);
    expect(header.encryptionContext).toEqual({ purpose: 'test', owner: 'me' });
  });

  it('KAT 3: a locale-order wrapping AAD opens with either sort option (fallback)', async () => {
    for (const utf8Sorting of [false, true]) {
      const { plaintext } = await envelope.decrypt(Buffer.from(KAT3, 'hex'), { keyring: new RawAesKeyring({ ...options, utf8Sorting }) });
      expect(plaintext.toString('hex')).toBe('a9');
    }
  });
});
