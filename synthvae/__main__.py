from synthvae.cli import main

main(prog_name="synthvae")
