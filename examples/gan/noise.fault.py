"""The reference with one change: the generator outputs uniform noise (kept in the graph). Its samples
do not change with its weights (issue #20), so it earns no sample quality (4), class fidelity (2),
diversity (2), copy (1) or mode coverage (1) points; and D wins outright, so the training log check
loses its 2 points too.
"""


class Generator(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION hint: z (N, latent_dim) -> images (N, channels, image_size, image_size) in [-1, 1]
        x = self.project(z).view(z.shape[0], self.c0, self.base, self.base)  # (N, C0, base, base)
        out = self.net(x)
        return out * 0 + (torch.rand_like(out) * 2 - 1)  # CHANGED: uniform noise (kept in the graph)
